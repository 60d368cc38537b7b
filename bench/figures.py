"""Figures: one value per run, summarised as the median and the spread; and the issue's goals."""

import statistics
from dataclasses import dataclass, field


@dataclass
class Figure:
    label: str
    unit: str
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_json(self) -> dict:
        return {"label": self.label, "unit": self.unit, "median": self.median, "min": min(self.runs),
                "max": max(self.runs), "runs": self.runs}  # fmt: skip


class Figures:
    """Every figure of a benchmark, by key, in the order they were first recorded."""

    def __init__(self) -> None:
        self._figures: dict[str, Figure] = {}

    def record(self, key: str, label: str, unit: str, value: float) -> None:
        self._figures.setdefault(key, Figure(label, unit)).runs.append(value)

    def __getitem__(self, key: str) -> Figure:
        return self._figures[key]

    def __contains__(self, key: str) -> bool:
        return key in self._figures

    def items(self) -> list[tuple[str, Figure]]:
        return list(self._figures.items())


@dataclass(frozen=True)
class Goal:
    text: str
    key: str
    limit: float
    at_most: bool  # the value must be at most the limit (else at least)
    every_run: bool = False  # judge the worst run, not the median

    def value(self, figures: Figures) -> float:
        runs = figures[self.key].runs
        if not self.every_run:
            return figures[self.key].median
        return max(runs) if self.at_most else min(runs)

    def met(self, figures: Figures) -> bool:
        value = self.value(figures)
        return value <= self.limit if self.at_most else value >= self.limit


GOALS = (
    Goal(
        "model-service /v1/predict, concurrency 1: p50 <= 1.5x scikit-learn in process", "predict_c1_ratio", 1.5, True
    ),
    Goal("full path, concurrency 8: >= 800 requests/s", "full_c8_rate", 800, False),
    Goal("full path, concurrency 8: p99 <= 25 ms", "full_c8_p99", 25, True),
    Goal("full path, concurrency 8: p99 <= 3x its p50", "full_c8_tail", 3, True),
    Goal("full path, concurrency 8: 0 errors in every run", "full_c8_errors", 0, True, every_run=True),
    Goal("full path, concurrency 1: p50 <= 3 ms", "full_c1_p50", 3, True),
    Goal("batch inference in process: >= 20,000 reviews/s", "served_batch", 20_000, False),
    Goal("model-service start-up with a cached model: ready in <= 2 s", "startup_model-service", 2, True),
)
