"""A model release: the folder `<version>/` holding `model.joblib` and `model.json`.

These two files are exactly the assets of a GitHub release; the folder is
written beside its final place and renamed into it, so a reader never sees
half a release.
"""

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import joblib
import sklearn
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from model_service.integrity import sha256_file
from model_service.manifest import ARTIFACT_NAME, MANIFEST_NAME, Evaluation, ModelManifest
from model_service.training.dataset import Dataset
from model_service.training.lexicon import Lexicon
from model_service.training.pipeline import DESCRIPTION


class ReleaseError(Exception):
    """The release folder cannot be written."""


def write_release(
    model: Pipeline,
    releases_dir: Path,
    version: str,
    dataset: Dataset,
    lexicon: Lexicon,
    evaluation: Evaluation,
    c: float,
    *,
    replace: bool = False,
) -> ModelManifest:
    target = releases_dir / version
    if target.exists() and not replace:
        raise ReleaseError(f"{target} exists; releases are immutable (pass --replace to overwrite a local one)")
    releases_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=releases_dir))
    try:
        artifact = staging / ARTIFACT_NAME
        _drop_process_specific_state(model)
        joblib.dump(model, artifact)
        manifest = ModelManifest(
            model_version=version,
            sha256=sha256_file(artifact),
            sklearn_version=sklearn.__version__,
            pipeline=DESCRIPTION,
            hyperparameters={"C": c},
            data_source=dataset.source,
            data_sha256=dataset.sha256,
            data_rows=len(dataset.reviews),
            lexicon_sha256=lexicon.sha256,
            lexicon_entries=len(lexicon.words),
            evaluation=evaluation,
            created_at=datetime.now(UTC).replace(microsecond=0),
        )
        manifest.write(staging / MANIFEST_NAME)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _drop_process_specific_state(model: Pipeline) -> None:
    """Make the artifact byte-reproducible: same data, seed and versions, same sha256.

    scikit-learn's text vectorizers memoise `id(stop_words)`, a memory address
    that differs in every process, and pickle it. The memo only skips a
    warning check and is rebuilt on demand, so dropping it changes no
    prediction; it lets anyone retrain a release and get the pinned digest.
    """
    for estimator in [model, *model.get_params(deep=True).values()]:
        if isinstance(estimator, BaseEstimator):
            vars(estimator).pop("_stop_words_id", None)
