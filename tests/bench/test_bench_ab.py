"""`python -m bench.ab`, run once at its smallest: two checkouts' systems side by side, loaded in turn.

Here both sides are this checkout (the comparison of two commits needs a second
checkout with its own .venv, which CI has not): what is checked is that each
side's system is started from its checkout, driven, timed and measured, and
that the comparison and the goals are printed. The numbers are not judged.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.services import Release

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ab_loads_two_systems_in_turn_and_prints_the_comparison_and_the_goals(release: Release, tmp_path: Path):
    out = tmp_path / "ab.json"
    command = [
        *(sys.executable, "-m", "bench.ab", str(REPO), "--runs", "1", "--seconds", "1"),
        *("--releases", str(release.folder), "--model-version", release.version, "--out", str(out)),
    ]

    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(out.read_text())
    for side in ("before", "after"):
        figures = results[side]
        for key in ("full_c1 p50 ms", "full_c8 requests/s", "full_c8 CPU ms/request: app-service/stable",
                    "predict_c8 requests/s", "peak RSS MiB: app-frontend/stable", "start-up to ready s: model-service",
                    "start-up CPU s: app-service"):  # fmt: skip
            assert figures[key][0] > 0, (side, key)
        errors = {key: sum(values) for key, values in figures.items() if key.endswith("errors")}
        assert errors == dict.fromkeys(("full_c1 errors", "full_c8 errors", "predict_c8 errors"), 0)
    assert "after/before" in finished.stdout
    assert "goals" in finished.stdout
