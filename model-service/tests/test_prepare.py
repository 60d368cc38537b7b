"""`model-service prepare` and MODEL_SOURCE=trained: a model trained into the volume once, then served from it.

A first start needs no published release: the one-shot step trains the version
into the cache's trained/ folder (two of them sharing the volume train it once),
and the server serves that release, checked against its own manifest, without
downloading anything.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from filelock import FileLock
from model_service.app import create_app
from model_service.integrity import sha256_file
from model_service.settings import Settings
from model_service.training.dataset import format_tsv
from model_service.training.demo_data import demo_reviews
from support.waiting import wait_until

VERSION = "v2.0.0"
# Two folds and only the lexicon's most polar words: seconds, not a minute.
QUICK = ("--folds", "2", "--inner-folds", "2", "--jobs", "1", "--lexicon-min-valence", "2.5")


def trained_settings(cache: Path, **overrides) -> Settings:
    return Settings(model_source="trained", model_version=VERSION, model_cache_dir=cache, **overrides)


def place_trained(release, cache: Path) -> Path:
    """The test release, as `prepare` would have left it in the cache."""
    folder = cache / "trained" / VERSION
    shutil.copytree(release.folder / release.version, folder)
    manifest = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**manifest, "model_version": VERSION}))
    return folder


def readyz_after_the_first_attempt(client: TestClient) -> dict:
    """/readyz once the loader has tried once (until then its reason is "loading")."""
    return wait_until(
        lambda: client.get("/readyz").json(),
        lambda answer: answer["detail"] != "loading",
        what="the loader's first attempt",
    )


def wait_ready(client: TestClient) -> dict:
    wait_until(
        lambda: client.get("/readyz"),
        lambda answer: answer.status_code == 200,
        what="/readyz 200",
        describe=lambda answer: answer.json(),
    )
    return client.get("/version").json()


def test_without_a_trained_model_the_service_is_not_ready_names_the_one_shot_step_and_downloads_nothing(
    release, tmp_path
):
    # Given a published release the URL template would find, and a cache without a trained model
    published = tmp_path / "published"
    shutil.copytree(release.folder / release.version, published / VERSION)
    settings = trained_settings(tmp_path / "cache", model_url_template=f"file://{published}/{{version}}/{{asset}}")

    # When the service starts in trained mode
    with TestClient(create_app(settings)) as client:
        answer = readyz_after_the_first_attempt(client)

    # Then it is not ready, says which step is missing, and fetched nothing
    assert answer["status"] == "not ready"
    assert f"no model {VERSION} trained in {tmp_path / 'cache' / 'trained'}" in answer["detail"]
    assert "`model-service prepare`" in answer["detail"]
    assert not (tmp_path / "cache" / VERSION).exists()


def test_a_trained_model_is_served_checked_against_its_own_manifest(release, tmp_path):
    folder = place_trained(release, tmp_path / "cache")

    with TestClient(create_app(trained_settings(tmp_path / "cache"))) as client:
        version = wait_ready(client)
        verdict = client.post("/v1/predict", json={"review": "The pasta was delicious."})

    assert version["model_version"] == VERSION
    assert version["model_sha256"] == sha256_file(folder / "model.joblib")
    assert verdict.status_code == 200
    assert verdict.json()["model_version"] == VERSION


@pytest.mark.parametrize(
    ("damage", "pin", "expected"),
    [
        ("artifact", "", "refusing"),  # bytes its manifest does not name
        (None, "b" * 64, f"expected {'b' * 64}"),  # a pin the trained model does not have
    ],
)
def test_a_trained_model_that_is_not_what_was_named_is_refused(release, tmp_path, damage, pin, expected):
    folder = place_trained(release, tmp_path / "cache")
    if damage == "artifact":
        (folder / "model.joblib").write_bytes(b"not the trained model")

    with TestClient(create_app(trained_settings(tmp_path / "cache", model_sha256=pin))) as client:
        answer = readyz_after_the_first_attempt(client)
        predict = client.post("/v1/predict", json={"review": "Great!"})

    assert expected in answer["detail"], answer
    assert predict.status_code == 503


def prepare_env(cache: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "MODEL_SOURCE": "trained",
        "MODEL_VERSION": VERSION,
        "MODEL_CACHE_DIR": str(cache),
        **extra,
    }


def start_prepare(cache: Path, data: Path, log: Path, **extra: str) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "model_service", "prepare", "--data", str(data), *QUICK],
            env=prepare_env(cache, **extra), stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_for_line(log: Path, text: str, process: subprocess.Popen) -> None:
    def logged() -> bool:
        assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()}"
        return text in log.read_text()

    wait_until(logged, what=f"{text!r} in the log", context=log.read_text)


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "reviews.tsv"
    path.write_text(format_tsv(*demo_reviews()), encoding="utf-8")
    return path


@pytest.mark.slow
def test_two_trainers_sharing_the_volume_train_once_and_both_find_the_same_model(tmp_path, data_file):
    cache = tmp_path / "cache"
    (cache / "trained").mkdir(parents=True)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]

    # Given both trainers started while a third party holds the version's lock, so that both must wait
    with FileLock(cache / "trained" / f".{VERSION}.lock"):
        trainers = [start_prepare(cache, data_file, log) for log in logs]
        for trainer, log in zip(trainers, logs, strict=True):
            wait_for_line(log, "another process is preparing model", trainer)
    # When the lock is released
    for trainer in trainers:
        trainer.wait(timeout=240)

    # Then both succeed, exactly one trained, and the volume holds one complete release and nothing half-written
    outputs = [log.read_text() for log in logs]
    assert [trainer.returncode for trainer in trainers] == [0, 0], outputs
    assert sum(f"training {VERSION} on 72 reviews" in output for output in outputs) == 1, outputs
    assert sum(output.rstrip().endswith("(already trained)") for output in outputs) == 1, outputs
    digest = sha256_file(cache / "trained" / VERSION / "model.joblib")
    assert all(f"sha256 {digest}" in output for output in outputs), outputs
    assert sorted(path.name for path in (cache / "trained").iterdir()) == [f".{VERSION}.lock", VERSION]
    assert json.loads((cache / "trained" / VERSION / "model.json").read_text())["sha256"] == digest


@pytest.mark.slow
def test_a_damaged_trained_model_and_an_abandoned_staging_folder_are_replaced_by_a_fresh_training(tmp_path, data_file):
    # Given a trained model whose bytes were damaged, and the staging folder of a trainer that was killed
    cache = tmp_path / "cache"
    assert start_prepare(cache, data_file, tmp_path / "first.log").wait(timeout=240) == 0
    (cache / "trained" / VERSION / "model.joblib").write_bytes(b"damaged")
    (cache / "trained" / f".{VERSION}.k1ll3d_x").mkdir()

    # When the one-shot step runs again
    second = start_prepare(cache, data_file, tmp_path / "second.log")
    assert second.wait(timeout=240) == 0, (tmp_path / "second.log").read_text()

    # Then it trained again, and the folder holds only the fresh, verified release
    output = (tmp_path / "second.log").read_text()
    assert "the trained model is unusable, training it again" in output
    assert output.rstrip().endswith("(trained)")
    assert sorted(path.name for path in (cache / "trained").iterdir()) == [f".{VERSION}.lock", VERSION]
    manifest = json.loads((cache / "trained" / VERSION / "model.json").read_text())
    assert manifest["sha256"] == sha256_file(cache / "trained" / VERSION / "model.joblib")


def test_in_release_mode_prepare_downloads_and_verifies_the_pinned_release_without_training(release, tmp_path):
    env = {
        **os.environ,
        "MODEL_SOURCE": "release",
        "MODEL_VERSION": release.version,
        "MODEL_SHA256": release.manifest.sha256,
        "MODEL_URL_TEMPLATE": f"file://{release.folder}/{{version}}/{{asset}}",
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
    }

    result = subprocess.run(
        [sys.executable, "-m", "model_service", "prepare", "--data", "/nonexistent.tsv"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    artifact = tmp_path / "cache" / release.version / "model.joblib"
    assert result.stdout == f"{artifact} sha256 {release.manifest.sha256}\n"
    assert not (tmp_path / "cache" / "trained").exists()


@pytest.mark.slow
def test_a_trained_model_that_does_not_have_the_pinned_digest_fails_the_step_with_one_line(tmp_path, data_file):
    result = subprocess.run(
        [sys.executable, "-m", "model_service", "prepare", "--data", str(data_file), *QUICK],
        env=prepare_env(tmp_path / "cache", MODEL_SHA256="c" * 64), capture_output=True, text=True, timeout=240,
        check=False,
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("model-service: refusing ")
    assert result.stderr.splitlines()[-1].endswith(f"expected {'c' * 64}")
