"""The loaded model, and the readiness state around it."""

import io
import logging
from dataclasses import dataclass
from typing import Literal

import joblib

from model_service.compiled_model import CompiledTextModel
from model_service.manifest import ModelManifest
from model_service.model_store import VerifiedModel

log = logging.getLogger(__name__)

Label = Literal["negative", "positive"]
_LABELS: tuple[Label, Label] = ("negative", "positive")
# From this many reviews on, one batch through the count matrices beats a loop over single reviews.
BATCH_PATH_FROM = 8
# Reviews on which the compiled model must agree with scikit-learn to the bit before it is used.
_PROBE_REVIEWS = [
    "The food was amazing and the staff were friendly!",
    "Cold, bland and overpriced. Never again?",
    "not bad at all",
    "Crème brûlée très bon 👍",
    "!!!",
    " ",
    "wow " * 500,
    'The "mains" were uninspired;\tthe dessert, however, was great.',
]


class ModelLoadError(Exception):
    """A verified artifact that still is not a usable sentiment model."""


class ModelNotReady(Exception):
    """No model is loaded yet: the message says why (a 503, routes.py)."""


@dataclass(frozen=True)
class Prediction:
    label: Label
    confidence: float


class Predictor:
    """Wraps the scikit-learn pipeline; loaded once, shared by every request.

    When the pipeline compiles (see compiled_model), reviews are scored by the
    compiled model, which gives scikit-learn's exact probabilities several
    times faster; otherwise by the pipeline itself.
    """

    def __init__(self, pipeline, manifest: ModelManifest) -> None:
        self._pipeline = pipeline
        self.manifest = manifest
        self._compiled = _compiled_if_exact(pipeline)
        self.inference_path = "compiled" if self._compiled else "scikit-learn"

    @classmethod
    def load(cls, verified: VerifiedModel) -> "Predictor":
        # Unpickles the exact bytes whose sha256 the store checked.
        try:
            pipeline = joblib.load(io.BytesIO(verified.artifact))
        except Exception as error:
            raise ModelLoadError(f"cannot unpickle {verified.path}: {type(error).__name__}: {error}") from None
        classes = [int(c) for c in getattr(pipeline, "classes_", [])]
        if not hasattr(pipeline, "predict_proba") or classes != [0, 1]:
            raise ModelLoadError(f"{verified.path} is not a binary sentiment classifier (classes {classes})")
        return cls(pipeline, verified.manifest)

    def predict(self, reviews: list[str]) -> list[Prediction]:
        if self._compiled is not None and len(reviews) >= BATCH_PATH_FROM:
            positives = self._compiled.positive_probabilities(reviews)
        elif self._compiled is not None:
            positives = [self._compiled.positive_probability(review) for review in reviews]
        else:
            positives = self._pipeline.predict_proba(reviews)[:, 1].tolist()
        return [
            Prediction(label=_LABELS[int(positive > 0.5)], confidence=max(positive, 1.0 - positive))
            for positive in positives
        ]


def _compiled_if_exact(pipeline) -> CompiledTextModel | None:
    compiled = CompiledTextModel.compile(pipeline)
    if compiled is None:
        log.info("pipeline is not of a compilable shape; serving it with scikit-learn")
        return None
    expected = pipeline.predict_proba(_PROBE_REVIEWS)[:, 1].tolist()
    one_by_one = [compiled.positive_probability(review) for review in _PROBE_REVIEWS]
    if one_by_one != expected or compiled.positive_probabilities(_PROBE_REVIEWS) != expected:
        log.warning("compiled model disagrees with scikit-learn on probe reviews; serving with scikit-learn")
        return None
    return compiled


class ModelState:
    """What the service knows about its model: loaded, or why not yet."""

    def __init__(self) -> None:
        self.predictor: Predictor | None = None
        self.problem = "loading"

    def loaded(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.problem = ""

    def failed(self, problem: str) -> None:
        self.problem = problem

    def ready_predictor(self) -> Predictor:
        """The loaded predictor; ModelNotReady, saying why, until there is one."""
        if self.predictor is None:
            raise ModelNotReady(f"model not loaded: {self.problem}")
        return self.predictor
