"""The report read from a real Prometheus holding two hours of known data, backfilled with promtool."""

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sentiment_devtools.checks.tools import run_tool
from sentiment_devtools.experiment.__main__ import main
from sentiment_devtools.experiment.declaration import load
from sentiment_devtools.stack.monitoring.servers import prometheus_server
from sentiment_devtools.stack.supervisor import Supervisor
from support.monitoring import start_all
from support.services import free_port

DECLARATIONS = Path(__file__).resolve().parents[2] / "k8s/experiments"
STEP_SECONDS = 15
STEPS = 480  # two hours
APP = 'namespace="sentiment",job="app-service"'
FRONTEND = 'namespace="sentiment",job="app-frontend"'
# Who wrote what over the two hours: (reviews, reviews with feedback, corrections) of a visitor, and how many
# visitors did that.
VISITORS = {
    "stable": {(1, 1, 0): 500, (1, 0, 0): 200, (1, 1, 1): 50, (3, 2, 1): 100, (3, 1, 0): 100, (8, 6, 5): 50},
    "canary": {(1, 1, 0): 50, (1, 0, 0): 20, (1, 1, 1): 5, (3, 2, 1): 10, (3, 2, 2): 5, (3, 1, 0): 10, (8, 6, 5): 5},
}
ASSIGNED = {"stable": 1700, "canary": 190}  # with the visitors who never wrote a review
ERRORS = {"stable": 2, "canary": 1}
MEAN_SECONDS = {"stable": 0.003, "canary": 0.0031}
# Each arm's share of predictions at or under each bound: the stable's p95 is in the 6 ms bucket.
LATENCY = {"stable": {"0.004": 0.5, "0.006": 0.96, "0.01": 1.0}, "canary": {"0.004": 0.5, "0.006": 0.95, "0.01": 1.0}}


def totals(version: str) -> dict[str, int]:
    """The per-visitor sums the services export, from the visitors themselves."""
    sums = dict.fromkeys(("n", "m", "f", "c", "mm", "ff", "cc", "mf", "mc", "fc"), 0)
    for (m, f, c), count in VISITORS[version].items():
        for key, value in {"n": 1, "m": m, "f": f, "c": c, "mm": m * m, "ff": f * f, "cc": c * c,
                           "mf": m * f, "mc": m * c, "fc": f * c}.items():  # fmt: skip
            sums[key] += count * value
    return sums


def openmetrics(end: int) -> str:
    """Counters growing linearly from 0 to their totals, one sample per step, ending at `end`."""
    families: dict[str, list[str]] = {}

    def counter(family: str, selector: str, by_version: dict[str, float], extra: str = "") -> None:
        lines = families.setdefault(f"# TYPE {family} counter", [])
        for version, total in by_version.items():
            for step in range(STEPS + 1):
                value = total * step / STEPS
                lines.append(f'{family}_total{{{selector},version="{version}"{extra}}} {value} {_at(end, step)}')

    sums = {version: totals(version) for version in VISITORS}
    counter("experiment_assignments", FRONTEND, ASSIGNED)
    for family, key in (
        ("experiment_visitors", "n"), ("reviews_submitted", "m"), ("user_corrections", "c"),
        ("experiment_visitor_reviews_squared", "mm"), ("experiment_visitor_feedback_squared", "ff"),
        ("experiment_visitor_corrections_squared", "cc"), ("experiment_visitor_reviews_feedback", "mf"),
        ("experiment_visitor_reviews_corrections", "mc"), ("experiment_visitor_feedback_corrections", "fc"),
    ):  # fmt: skip
        counter(family, APP, {version: sums[version][key] for version in VISITORS})
    for outcome, count in (("confirmed", lambda s: s["f"] - s["c"]), ("corrected", lambda s: s["c"])):
        counter("user_feedback", APP, {v: count(sums[v]) for v in VISITORS}, f',outcome="{outcome}"')
    ok = {v: 2 * sums[v]["m"] for v in VISITORS}
    counter("http_requests", APP, ok, ',route="/api/v1/sentiment",method="POST",status="200"')
    counter("http_requests", APP, ERRORS, ',route="/api/v1/sentiment",method="POST",status="503"')
    histogram = families.setdefault("# TYPE prediction_latency_seconds histogram", [])
    for version in VISITORS:
        series = f'{APP},version="{version}"'
        for step in range(STEPS + 1):
            count = sums[version]["m"] * step / STEPS
            for le, share in (*LATENCY[version].items(), ("+Inf", 1.0)):
                histogram.append(
                    f'prediction_latency_seconds_bucket{{{series},le="{le}"}} {count * share} {_at(end, step)}'
                )
            histogram.append(f"prediction_latency_seconds_count{{{series}}} {count} {_at(end, step)}")
            histogram.append(
                f"prediction_latency_seconds_sum{{{series}}} {count * MEAN_SECONDS[version]} {_at(end, step)}"
            )
    lines = [line for family, samples in families.items() for line in (family, *samples)]
    return "\n".join([*lines, "# EOF", ""])


def _at(end: int, step: int) -> int:
    return end - (STEPS - step) * STEP_SECONDS


@pytest.fixture(scope="module")
def backfilled_prometheus(tmp_path_factory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("backfilled-prometheus")
    end = int(time.time()) // STEP_SECONDS * STEP_SECONDS - 600
    (folder / "data.om").write_text(openmetrics(end))
    result = run_tool("promtool", "tsdb", "create-blocks-from", "openmetrics", folder / "data.om", folder / "data")
    assert result.returncode == 0, result.stdout + result.stderr
    (folder / "prometheus.yml").write_text("global: {}\n")
    port, supervisor = free_port(), Supervisor(folder)
    start_all([prometheus_server(folder / "prometheus.yml", folder / "data", port)], supervisor)
    yield f"http://127.0.0.1:{port}", end
    supervisor.stop_all()


@pytest.fixture
def declaration_since_the_data(backfilled_prometheus, tmp_path: Path) -> Path:
    """The confidence-display experiment, declared to start when the backfilled data does."""
    _, end = backfilled_prometheus
    declared = load(DECLARATIONS / "confidence-display.yaml").model_dump(mode="json")
    declared["start"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_at(end, 0)))
    path = tmp_path / "declaration.yaml"
    path.write_text(yaml.safe_dump(declared))
    return path


def test_the_report_checks_the_split_then_tests_per_visitor_and_says_to_continue(
    backfilled_prometheus, declaration_since_the_data, tmp_path: Path, capsys
):
    url, end = backfilled_prometheus
    chart = tmp_path / "report.png"

    code = main(["--declaration", str(declaration_since_the_data), "--prometheus", url, "--at", str(end),
                 "--chart", str(chart)])  # fmt: skip

    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.startswith(f"Sentiment Canary experiment confidence-display: {url}, namespace sentiment, since ")
    expected = """
  Sample ratio, checked first: assigned visitors stable 1700, canary 190 (10.1%, declared 10%): no mismatch
    sequential p = 1 (Lindon & Malek's Dirichlet-multinomial test, valid at every look; a mismatch below 0.001)
    chi-square p = 0.939 (valid at one look only; the alert's test)

                                stable                    canary
  visitors with a review        1000                      105
  reviews                       1750                      190
  reviews per visitor           1.75                      1.81
  corrections                   400                       50
  correction rate [95% CI]      22.9% [20.1%, 25.7%]      26.3% [18.1%, 34.6%]
  feedback rate                 65.7% [63.9%, 67.6%]      65.8% [60.4%, 71.2%]
  corrected share of feedback   34.8% [30.9%, 38.7%]      40.0% [28.6%, 51.4%]
  design effect                 2.03                      1.74
  predictions timed             1750                      190
  mean latency                  3.00 ms                   3.10 ms
  slower than 6.00 ms           4.00%                     5.26%
  error ratio                   0.06% (2 of 3502)         0.26% (1 of 381)
"""
    assert expected in printed
    assert (
        "  Correction rate, canary minus stable (higher is better, minimal effect 1.00 points): +3.46 points\n"
        in printed
    )
    assert "    always valid, at any look: p = 1, 95.5% confidence sequence [-65.10 points, +72.01 points]" in printed
    assert "    fixed horizon, valid ONCE, at the planned sample only: z = 0.78, p = 0.437" in printed
    assert printed.endswith(
        f"""
  Decision: CONTINUE
    - the correction rate is not significantly different yet (always-valid p = 1, within [-65.10, +72.01] points)
    - prediction latency is not yet shown within its margin of 1.00 points
    - the error ratio is not yet shown within its margin of 0.50 points
    - 251342 more stable reviews and 27931 more canary reviews to the planned sample (253092 + 28121)

  chart: {chart}
"""
    )
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")


def test_an_unreachable_prometheus_is_one_line_and_exit_code_1(capsys):
    declaration = DECLARATIONS / "confidence-display.yaml"
    code = main(["--declaration", str(declaration), "--prometheus", f"http://127.0.0.1:{free_port()}",
                 "--chart", "/dev/null"])  # fmt: skip

    assert code == 1
    assert capsys.readouterr().err.startswith("experiment: cannot reach Prometheus at http://127.0.0.1:")


def test_without_a_declaration_the_report_decides_the_experiment_k8s_says_runs_from_its_start(
    backfilled_prometheus, tmp_path: Path, capsys
):
    # Given k8s/experiments/ as committed, its running declaration starting when the backfilled data does
    url, end = backfilled_prometheus
    experiments = tmp_path / "k8s/experiments"
    shutil.copytree(DECLARATIONS, experiments)
    running = yaml.safe_load((experiments / "kustomization.yaml").read_text())["configMapGenerator"][0]
    [name] = [literal.partition("=")[2] for literal in running["literals"] if literal.startswith("running=")]
    declared = experiments / f"{name}.yaml"
    start = time.gmtime(_at(end, 0))
    declared.write_text(re.sub(r"^start: .+$", f"start: {time.strftime('%Y-%m-%dT%H:%M:%SZ', start)}",
                               declared.read_text(), flags=re.M))  # fmt: skip

    # When the report is asked for no declaration
    code = main(["--k8s-dir", str(tmp_path / "k8s"), "--prometheus", url, "--at", str(end), "--chart", "/dev/null"])

    # Then it decides the running one, over the window from its start: all of the data
    printed = capsys.readouterr().out
    assert code == 0, printed
    since = time.strftime("%Y-%m-%d %H:%M", start)
    assert printed.startswith(f"Sentiment Canary experiment {name}: {url}, namespace sentiment, since {since}")
    assert "assigned visitors stable 1700, canary 190 (10.1%, declared 10%): no mismatch" in printed


def test_a_running_experiment_that_is_not_declared_is_one_line_and_exit_code_1(tmp_path: Path, capsys):
    experiments = tmp_path / "k8s/experiments"
    shutil.copytree(DECLARATIONS, experiments)
    kustomization = experiments / "kustomization.yaml"
    kustomization.write_text(re.sub(r"running=[\w-]*", "running=bigger-buttons", kustomization.read_text()))

    code = main(["--k8s-dir", str(tmp_path / "k8s"), "--prometheus", f"http://127.0.0.1:{free_port()}"])

    assert code == 1
    assert "running='bigger-buttons' names no declaration" in capsys.readouterr().err
