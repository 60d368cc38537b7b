"""The report read from a real Prometheus holding two hours of known data, backfilled with promtool."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from experiment.__main__ import main
from k8scheck.tools import run_tool
from localmonitoring.servers import prometheus_server
from support.monitoring import start_all
from support.services import free_port

STEP_SECONDS = 15
STEPS = 480  # two hours
LABELS = 'namespace="sentiment",job="app-service"'
# Over the two hours, per version: reviews, corrections, 5xx answers, mean latency (s). Every prediction takes
# 4 to 6 ms, half of them under 4 ms: a p95 of 5.8 ms on both arms.
TOTALS = {
    "stable": {"reviews": 1000, "corrections": 100, "errors": 2, "mean": 0.003},
    "canary": {"reviews": 500, "corrections": 75, "errors": 1, "mean": 0.0031},
}


def openmetrics(end: int) -> str:
    """Counters growing linearly from 0 to their totals, one sample per step, ending at `end`."""
    lines: list[str] = []

    def counter(family: str, totals: dict[str, float], extra: str = "") -> None:
        lines.append(f"# TYPE {family} counter")
        for version, total in totals.items():
            for step in range(STEPS + 1):
                value = total * step / STEPS
                lines.append(f'{family}_total{{{LABELS},version="{version}"{extra}}} {value} {_at(end, step)}')

    counter("reviews_submitted", {v: t["reviews"] for v, t in TOTALS.items()})
    counter("user_corrections", {v: t["corrections"] for v, t in TOTALS.items()})
    counter(
        "http_requests", {v: 2 * t["reviews"] for v, t in TOTALS.items()}, ',route="/api/v1/sentiment",status="200"'
    )
    counter("http_requests", {v: t["errors"] for v, t in TOTALS.items()}, ',route="/api/v1/sentiment",status="503"')
    lines[:] = _merge_families(lines)
    lines.append("# TYPE prediction_latency_seconds histogram")
    for version, totals in TOTALS.items():
        for step in range(STEPS + 1):
            count = totals["reviews"] * step / STEPS
            series = f'{LABELS},version="{version}"'
            for le, share in (("0.004", 0.5), ("0.006", 1.0), ("+Inf", 1.0)):
                lines.append(
                    f'prediction_latency_seconds_bucket{{{series},le="{le}"}} {count * share} {_at(end, step)}'
                )
            lines.append(f"prediction_latency_seconds_count{{{series}}} {count} {_at(end, step)}")
            lines.append(f"prediction_latency_seconds_sum{{{series}}} {count * totals['mean']} {_at(end, step)}")
    return "\n".join([*lines, "# EOF", ""])


def _at(end: int, step: int) -> int:
    return end - (STEPS - step) * STEP_SECONDS


def _merge_families(lines: list[str]) -> list[str]:
    """One # TYPE line per family: OpenMetrics wants a family's samples together."""
    seen: set[str] = set()
    return [line for line in lines if not (line.startswith("# TYPE") and (line in seen or seen.add(line)))]


@pytest.fixture(scope="module")
def backfilled_prometheus(tmp_path_factory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("backfilled-prometheus")
    end = int(time.time()) // STEP_SECONDS * STEP_SECONDS - 600
    (folder / "data.om").write_text(openmetrics(end))
    result = run_tool("promtool", "tsdb", "create-blocks-from", "openmetrics", folder / "data.om", folder / "data")
    assert result.returncode == 0, result.stdout + result.stderr
    (folder / "prometheus.yml").write_text("global: {}\n")
    [prometheus] = start_all([prometheus_server(folder / "prometheus.yml", folder / "data", free_port())], folder)
    yield prometheus.server.url, end
    prometheus.stop()


def test_the_report_reads_the_known_numbers_and_decides_there_is_not_enough_data_yet(
    backfilled_prometheus, tmp_path: Path, capsys
):
    url, end = backfilled_prometheus

    code = main(["--prometheus", url, "--window", "2h", "--at", str(end), "--chart", str(tmp_path / "report.png")])

    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.startswith(f"Sentiment Canary experiment: {url}, namespace sentiment, last 2h\n")
    expected = """
                            stable                    canary
  reviews submitted         1000                      500
  corrections               100                       75
  correction rate [95% CI]  10.0% [8.3%, 12.0%]       15.0% [12.1%, 18.4%]
  predictions timed         1000                      500
  mean latency              3.00 ms                   3.10 ms (1.03x)
  p95 latency               5.80 ms                   5.80 ms (1.00x)
  error ratio               0.10% (2 of 2002)         0.10% (1 of 1001)

  canary vs stable: +5.00 points (1.50x), z = 2.84, p = 0.00446 (two-proportion z-test, two-sided)
  planned sample: 14751 reviews per arm, to detect a 1.10x correction rate (alpha 0.05, power 0.8)

  Decision: NOT ENOUGH DATA YET
    - stable needs 13751 more reviews (of 14751 planned per arm)
    - canary needs 14251 more reviews (of 14751 planned per arm)
"""
    assert expected in printed
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")


def test_an_unreachable_prometheus_is_one_line_and_exit_code_1(capsys):
    code = main(["--prometheus", f"http://127.0.0.1:{free_port()}", "--chart", "/dev/null"])

    assert code == 1
    assert capsys.readouterr().err.startswith("experiment: cannot reach Prometheus at http://127.0.0.1:")
