"""An experiment, declared before it starts: what it tests, how it decides, the sample it needs.

A small YAML document (tests/experiment/declarations/ holds two), validated on
load: a declaration whose planned sample is smaller than its own plan requires
is refused, so the report never decides on an underpowered plan, and it never
guesses the baseline from the data it is deciding on.
"""

import enum
from pathlib import Path

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sentiment_devtools.experiment import planning


class Direction(enum.StrEnum):
    HIGHER = "higher"
    LOWER = "lower"

    @property
    def sign(self) -> int:
        """+1 when a positive canary-minus-stable difference is better."""
        return 1 if self is Direction.HIGHER else -1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Primary(Strict):
    metric: str = Field(pattern="^correction_rate$")  # corrections / reviews: the one primary metric the report reads
    direction: Direction
    why: str = Field(min_length=1)  # why that direction is better: a declaration states it
    minimal_effect: float = Field(gt=0, lt=1)  # relative to the baseline: 0.10 is a change of 10% of the rate


class Margin(Strict):
    """A guardrail: the canary may be worse than the stable by less than `margin` (a difference of proportions)."""

    margin: float = Field(gt=0, lt=1)


class Guardrails(Strict):
    # predictions slower than the stable's p95 bucket bound: the canary's share minus the stable's
    prediction_latency: Margin
    # 5xx answers of the app-service's served requests: the canary's ratio minus the stable's
    error_ratio: Margin

    def items(self) -> tuple[tuple[str, Margin], ...]:
        return (("prediction_latency", self.prediction_latency), ("error_ratio", self.error_ratio))


class Split(Strict):
    canary: float = Field(gt=0, lt=1)  # the canary's share of new visitors (the VirtualService weight / 100)


class Baseline(Strict):
    """The stable's figures measured before the start, on which the sample is planned."""

    correction_rate: float = Field(gt=0, lt=1)
    reviews_per_visitor: float = Field(ge=1)
    design_effect: float = Field(ge=1)  # the visitor-level variance over the per-review one (visitors.py)


class Declaration(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    hypothesis: str = Field(min_length=1)
    start: AwareDatetime  # the analysis window starts here
    split: Split
    primary: Primary
    guardrails: Guardrails
    baseline: Baseline
    alpha: float = Field(gt=0, lt=0.5)
    power: float = Field(gt=0.5, lt=1)
    planned_reviews: int = Field(gt=0)  # both arms together, at least `required_reviews`

    @property
    def effect(self) -> float:
        """The minimal effect as a signed difference of correction rates, canary minus stable."""
        return self.primary.direction.sign * self.primary.minimal_effect * self.baseline.correction_rate

    @property
    def levels(self) -> planning.Levels:
        return planning.levels(self.alpha, len(self.guardrails.items()))

    @property
    def required_reviews(self) -> int:
        return planning.planned_reviews(
            self.baseline.correction_rate,
            self.effect,
            self.split.canary,
            self.baseline.design_effect,
            self.levels.primary,
            self.power,
        )

    @property
    def planned_reviews_per_arm(self) -> dict[str, int]:
        canary = round(self.planned_reviews * self.split.canary)
        return {"stable": self.planned_reviews - canary, "canary": canary}

    @property
    def primary_mixing_variance(self) -> float:
        return planning.mixing_variance(self.effect, self.levels.primary, self.power)

    def guardrail_mixing_variance(self, margin: float) -> float:
        """Tuned, like the primary's, for the look at which a guardrail at zero is shown within its margin."""
        return planning.mixing_variance(margin, 2 * self.levels.non_inferiority, self.power)

    @model_validator(mode="after")
    def _plan_is_large_enough(self) -> "Declaration":
        if self.planned_reviews < self.required_reviews:
            raise ValueError(
                f"planned_reviews {self.planned_reviews} is below the {self.required_reviews} reviews the plan "
                f"needs for power {self.power} (baseline, minimal effect, split and design effect as declared)"
            )
        return self


class DeclarationError(Exception):
    pass


def load(path: Path) -> Declaration:
    try:
        document = yaml.safe_load(path.read_text())
        return Declaration.model_validate(document)
    except (OSError, yaml.YAMLError, ValueError) as error:
        raise DeclarationError(f"{path}: {error}") from error
