"""Fixtures of the model-service tests: a real (tiny) release and real processes."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from model_service.manifest import ModelManifest
from model_service.training.demo_data import demo_dataset
from model_service.training.evaluate import CrossValidationPlan, cross_validate, fit
from model_service.training.lexicon import load_lexicon
from model_service.training.release import write_release
from support.services import ProcessGroup, ServiceProcess


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


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator:
    """Start model-service processes with the given environment, without waiting; all are stopped afterwards."""
    group = ProcessGroup(tmp_path)

    def start(**env: str) -> ServiceProcess:
        return group.launch("model_service", **env)

    yield start
    group.stop_all()
