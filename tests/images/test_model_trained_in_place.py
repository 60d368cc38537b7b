"""A first start without any artifact of ours: the model-service image trains the model into the volume in a
one-shot container (compose's model-prepare, the pods' init container prepare-model), then serves it.

As the cluster runs them: the image's user, a read-only root filesystem, a tmpfs on /tmp, the model cache as a
volume. Only the internet is replaced, by a mounted TSV this test writes (the one-shot step downloads the pinned
public data otherwise). Two trainers share the volume, as stable's and canary's pods do.
"""

import hashlib
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from filelock import FileLock
from model_service.training.dataset import format_tsv
from model_service.training.demo_data import demo_reviews
from sentiment_devtools.images.cli import image_name
from support.containers import IMAGE_USER, TIMINGS, Container, volume

pytestmark = pytest.mark.images

VERSION = "v1.0.0"
MODEL = {"MODEL_SOURCE": "trained", "MODEL_VERSION": VERSION}  # the ConfigMaps' and compose's defaults
# The cluster's step, with the mounted data and quick folds; two processes, as the pods' default.
PREPARE = ("model-service", "prepare", "--data", "/data/reviews.tsv", "--folds", "2", "--inner-folds", "2",
           "--lexicon-min-valence", "2.5")  # fmt: skip
WAITING = f"another process is preparing model {VERSION}"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training data, readable by the image's user through a read-only mount."""
    folder = tmp_path_factory.mktemp("data")
    (folder / "reviews.tsv").write_text(format_tsv(*demo_reviews()), encoding="utf-8")
    folder.chmod(0o755)
    (folder / "reviews.tsv").chmod(0o644)
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return volume(tmp_path_factory.mktemp("volumes") / "model-cache")


@pytest.fixture(scope="module")
def trainers(podman, data, cache) -> list[dict]:
    """Two one-shot trainers on the one volume, both started while the version's lock is held, so that both
    wait for it; then the lock is let go. What each showed while it waited, its exit code and its output."""
    trained = volume(cache / "trained")
    lock_file = trained / f".{VERSION}.lock"
    lock_file.touch()
    os.chown(lock_file, IMAGE_USER, IMAGE_USER)  # as a trainer of the image would have left it
    mounts = {cache: "/var/cache/model-service", data: "/data:ro"}
    started: list[Container] = []
    try:
        with FileLock(lock_file):
            for _ in range(2):
                started.append(Container(podman, image_name("model-service"), MODEL, mounts, command=PREPARE))
            for trainer in started:
                trainer.wait_for_log(WAITING)
            statuses = [trainer.process_status() for trainer in started]
        released = time.monotonic()
        exit_codes = [trainer.wait_for_exit(timeout=600) for trainer in started]
        TIMINGS["two trainers, from the lock's release to both done"] = time.monotonic() - released
        return [
            {"status": status, "exit_code": code, "log": trainer.logs()}
            for trainer, status, code in zip(started, statuses, exit_codes, strict=True)
        ]
    finally:
        for trainer in started:
            trainer.remove()


def test_the_one_shot_step_runs_as_the_pod_does_non_root_without_privileges(trainers):
    for trainer in trainers:
        assert trainer["status"]["Uid"].split() == [str(IMAGE_USER)] * 4
        assert int(trainer["status"]["CapEff"], 16) == 0
        assert trainer["status"]["NoNewPrivs"] == "1"


def test_two_trainers_on_one_volume_train_once_and_leave_one_complete_release(trainers, cache, data):
    logs = [trainer["log"] for trainer in trainers]
    assert [trainer["exit_code"] for trainer in trainers] == [0, 0], logs
    assert sum(f"training {VERSION} on 72 reviews" in log for log in logs) == 1, logs
    assert sum("(already trained)" in log for log in logs) == 1, logs

    release = cache / "trained" / VERSION
    assert sorted(path.name for path in (cache / "trained").iterdir()) == [f".{VERSION}.lock", VERSION]
    assert sorted(path.name for path in release.iterdir()) == ["model.joblib", "model.json"]
    manifest = json.loads((release / "model.json").read_text())
    assert manifest["sha256"] == hashlib.sha256((release / "model.joblib").read_bytes()).hexdigest()
    assert manifest["data_sha256"] == hashlib.sha256((data / "reviews.tsv").read_bytes()).hexdigest()
    assert all(f"sha256 {manifest['sha256']}" in log for log in logs), logs
    assert release.stat().st_uid == IMAGE_USER


def test_the_model_service_serves_the_trained_model_from_the_volume_and_downloads_nothing(podman, trainers, cache):
    manifest = json.loads((cache / "trained" / VERSION / "model.json").read_text())
    server = Container(podman, image_name("model-service"), {"APP_VERSION": "canary", **MODEL},
                       {cache: "/var/cache/model-service"})  # fmt: skip
    try:
        TIMINGS["model-service in trained mode, podman run to /readyz 200"] = server.wait_until("/readyz")
        version = httpx.get(f"{server.url}/version").json()
        verdict = httpx.post(f"{server.url}/v1/predict", json={"review": "The soup was cold and the waiter rude."})
    finally:
        server.remove()

    assert version["model_version"] == VERSION
    assert version["model_sha256"] == manifest["sha256"]
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["label"] == "negative"
    assert not (cache / VERSION).exists()  # no published release was downloaded beside it
