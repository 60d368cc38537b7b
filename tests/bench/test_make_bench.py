"""`make bench`'s machinery, run once at its smallest: the numbers are not judged here, only that they exist.

Timing goals belong in the benchmark's own output, never in a test: this
machine is shared and its load varies. What is checked is that every figure is
measured on the real system, that no request failed, and that the fast paths
were proven exact.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.services import Release

REPO = Path(__file__).resolve().parents[2]
FIGURES = [
    "sklearn_single_p50", "served_single_p50", "sklearn_batch", "served_batch",
    "predict_c1_p50", "predict_c8_rate", "full_c1_p50", "full_c8_rate", "full_c8_p99", "full_c1_ratio",
    "startup_model-service", "startup_app-service", "rss_model-service", "rss_app-service", "rss_envoy",
    # the full path on PostgreSQL, two app-service replicas of the arm, beside SQLite's
    "full_pg_c1_p50", "full_pg_c8_rate", "full_pg_c8_p99", "cpu_full_pg_postgres", "cpu_full_pg_app-service/stable/2",
    # what the load reached of the capacity its CPU per request allows; the page, for the frontend's sizing
    "reached_full", "reached_full_pg", "full_c8_tail", "page_c8_rate", "cpu_page_app-frontend/stable",
    "rss_app-frontend",
]  # fmt: skip


@pytest.mark.slow
def test_bench_measures_every_figure_on_the_real_system_without_errors(release: Release, tmp_path: Path):
    out = tmp_path / "results.json"
    command = [
        *(sys.executable, "-m", "bench", "--runs", "1", "--seconds", "1"),
        *("--releases", str(release.folder), "--model-version", release.version),
        *("--state-dir", str(tmp_path / "state"), "--out", str(out)),
    ]

    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(out.read_text())
    assert results["exact"] is True
    assert "for the benchmark only" in results["rate_limit"]
    for key in FIGURES:
        assert results["figures"][key]["median"] > 0, key
    errors = {key: figure["median"] for key, figure in results["figures"].items() if key.endswith("_errors")}
    loads = ("predict_c1", "predict_c8", "full_c1", "full_c8", "full_pg_c1", "full_pg_c8", "page_c1", "page_c8")
    assert errors == dict.fromkeys((f"{load}_errors" for load in loads), 0)
    assert len(results["goals"]) == 8
    assert "goals" in finished.stdout
