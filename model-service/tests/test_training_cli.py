"""`model-service train`: a release folder, reproducible to the byte on one machine, and in its metrics and
predictions wherever other floating-point kernels run (docs/model.md, "Reproducible, and how far")."""

import json
import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
from model_service.integrity import sha256_file
from model_service.training.dataset import format_tsv
from model_service.training.demo_data import demo_reviews

pytestmark = pytest.mark.slow


def train(*arguments: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model_service", "train", "--folds", "3", "--inner-folds", "2", "--jobs", "1",
         "--lexicon-min-valence", "2.5",
         *arguments],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "reviews.tsv"
    reviews, labels = demo_reviews()
    path.write_text(format_tsv(reviews, labels), encoding="utf-8")
    return path


def test_two_trainings_in_separate_processes_give_the_same_bytes_and_metrics(data_file, tmp_path):
    runs = [train("--data", str(data_file), "--version", "v1.2.3", "--out", str(tmp_path / name)) for name in "ab"]

    for run in runs:
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("accuracy ")
    manifests = [json.loads((tmp_path / name / "v1.2.3" / "model.json").read_text()) for name in "ab"]
    assert manifests[0]["sha256"] == manifests[1]["sha256"] == sha256_file(tmp_path / "a" / "v1.2.3" / "model.joblib")
    assert manifests[0]["evaluation"] == manifests[1]["evaluation"]
    assert manifests[0]["data_sha256"] == sha256_file(data_file)
    assert manifests[0]["data_rows"] == 72
    assert manifests[0]["evaluation"]["folds"] == 3
    assert "nested CV" in manifests[0]["evaluation"]["protocol"]
    assert manifests[0]["sklearn_version"]


def test_other_blas_kernels_give_the_same_metrics_and_predictions(data_file, tmp_path):
    # Given two trainings whose OpenBLAS runs other kernels, as on two other x86-64 CPUs (Prescott's run on any)
    kernels = ("Prescott", "Nehalem")
    for kernel in kernels:
        run = train(
            "--data", str(data_file), "--version", "v1", "--out", str(tmp_path / kernel), OPENBLAS_CORETYPE=kernel
        )
        assert run.returncode == 0, run.stderr

    # Then the evaluation, the chosen C and every verdict agree; the probabilities differ at most in their last bits
    manifests = [json.loads((tmp_path / kernel / "v1" / "model.json").read_text()) for kernel in kernels]
    assert manifests[0]["evaluation"] == manifests[1]["evaluation"]
    assert manifests[0]["hyperparameters"] == manifests[1]["hyperparameters"]
    reviews, _ = demo_reviews()
    reviews += ["The soup was cold and the waiter was rude.", "Gross.", "Wonderful pasta, we will be back!"]
    models = [joblib.load(tmp_path / kernel / "v1" / "model.joblib") for kernel in kernels]
    probabilities = [model.predict_proba(reviews)[:, 1] for model in models]
    assert np.array_equal(models[0].predict(reviews), models[1].predict(reviews))
    assert np.abs(probabilities[0] - probabilities[1]).max() < 1e-9


def test_a_release_is_never_overwritten_by_accident(tmp_path):
    first = train("--demo", "--version", "v1.0.0", "--out", str(tmp_path))
    second = train("--demo", "--version", "v1.0.0", "--out", str(tmp_path))

    assert first.returncode == 0, first.stderr
    assert "DEMO MODEL" in first.stderr
    assert second.returncode == 1
    assert "releases are immutable" in second.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--demo", "--version", "../escape"], "--version '../escape' must match"),
        (["--data", "/nonexistent.tsv", "--version", "v1"], "/nonexistent.tsv: cannot read"),
        (["--data", "https://example.invalid/x.tsv", "--version", "v1"], "needs --data-sha256"),
    ],
)
def test_bad_arguments_fail_with_one_clear_line(tmp_path, arguments, message):
    run = train(*arguments, "--out", str(tmp_path))

    assert run.returncode != 0
    assert message in run.stderr
