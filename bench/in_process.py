"""The model in this process: scikit-learn's predict_proba, and the path the model-service serves with.

Both run on the same reviews in the same run, so their ratio holds across
machines and loads where the absolute times do not. scikit-learn's time is the
honest reference for "the model"; the served path is the compiled model
(compiled_model.py), which must equal it to the bit: `exact_on` proves that on
every review given.
"""

import hashlib
import io
import statistics
import time
from dataclasses import dataclass

import joblib
import numpy as np
from model_service.compiled_model import CompiledTextModel
from model_service.manifest import ModelManifest
from model_service.predictor import Predictor
from sentiment_devtools.stack.model_release import LocalRelease

BATCH_SIZE = 1_000


@dataclass(frozen=True)
class Model:
    pipeline: object
    predictor: Predictor  # what the model-service serves with
    manifest: ModelManifest


@dataclass(frozen=True)
class SingleReview:
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class ModelTimes:
    sklearn: SingleReview
    served: SingleReview
    sklearn_batch_per_s: float
    served_batch_per_s: float


def load_model(release: LocalRelease) -> Model:
    folder = release.folder / release.version
    artifact = (folder / "model.joblib").read_bytes()
    if hashlib.sha256(artifact).hexdigest() != release.sha256:
        raise SystemExit(f"bench: {folder}/model.joblib does not match its manifest's sha256")
    pipeline = joblib.load(io.BytesIO(artifact))
    manifest = ModelManifest.read(folder / "model.json")
    return Model(pipeline, Predictor(pipeline, manifest), manifest)


def time_model(model: Model, reviews: list[str], sklearn_reviews: int = 200, served_reviews: int = 1_000) -> ModelTimes:
    batch = [reviews[i % len(reviews)] for i in range(BATCH_SIZE)]
    return ModelTimes(
        sklearn=_single(lambda review: model.pipeline.predict_proba([review]), reviews[:sklearn_reviews]),
        served=_single(lambda review: model.predictor.predict([review]), batch[:served_reviews]),
        sklearn_batch_per_s=_batch_rate(model.pipeline.predict_proba, batch),
        served_batch_per_s=_batch_rate(model.predictor.predict, batch),
    )


def exact_on(model: Model, reviews: list[str]) -> bool:
    """Both compiled paths, review by review and as one batch, equal predict_proba to the bit."""
    compiled = CompiledTextModel.compile(model.pipeline)
    if compiled is None:
        return False
    reference = model.pipeline.predict_proba(reviews)[:, 1].tolist()
    one_by_one = [compiled.positive_probability(review) for review in reviews]
    return one_by_one == reference and compiled.positive_probabilities(reviews) == reference


def _single(predict, reviews: list[str]) -> SingleReview:
    for review in reviews[:20]:
        predict(review)
    times = []
    for review in reviews:
        started = time.perf_counter()
        predict(review)
        times.append(time.perf_counter() - started)
    return SingleReview(float(np.percentile(times, 50)) * 1e3, float(np.percentile(times, 99)) * 1e3)


def _batch_rate(predict, batch: list[str], repeats: int = 3) -> float:
    predict(batch)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        predict(batch)
        times.append(time.perf_counter() - started)
    return len(batch) / statistics.median(times)
