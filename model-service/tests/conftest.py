"""Fixtures of the model-service tests: a real (tiny) release and real processes."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from model_service.manifest import ModelManifest
from model_service.training.demo_data import demo_dataset
from model_service.training.evaluate import CrossValidationPlan, cross_validate, fit
from model_service.training.lexicon import load_lexicon
from model_service.training.release import write_release


@dataclass(frozen=True)
class Release:
    """A releases folder holding one real release: `<folder>/<version>/model.{joblib,json}`."""

    folder: Path
    version: str
    manifest: ModelManifest


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """A real release, trained on the demo corpus in a few seconds."""
    root = tmp_path_factory.mktemp("releases")
    version = "v0.0.1-test"
    dataset = demo_dataset()
    lexicon = load_lexicon(min_abs_valence=2.5)
    plan = CrossValidationPlan(folds=2, inner_folds=2, seed=0, jobs=1)
    evaluation = cross_validate(dataset.reviews, dataset.labels, lexicon, plan)
    model = fit(dataset.reviews, dataset.labels, lexicon, c=30.0)
    manifest = write_release(model, root, version, dataset, lexicon, evaluation, c=30.0)
    return Release(root, version, manifest)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServiceProcess:
    """`model-service serve` as a real process on 127.0.0.1, its log kept in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "model_service", "serve"], env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, path: str, status: int, timeout: float = 60.0) -> httpx.Response:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"model-service exited with {self._process.returncode}:\n{self.log()}")
            try:
                response = httpx.get(self.url + path, timeout=2.0)
                if response.status_code == status:
                    return response
                last = response.text
            except httpx.TransportError as error:
                last = error
            time.sleep(0.05)
        raise AssertionError(f"{path} never answered {status} (last: {last!r}); log:\n{self.log()}")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator:
    """Start model-service processes with the given environment; all are stopped afterwards."""
    started: list[ServiceProcess] = []

    def start(**env: str) -> ServiceProcess:
        process = ServiceProcess(env, tmp_path / f"model-service-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
