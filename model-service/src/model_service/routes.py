"""HTTP routes of the model-service: predictions, its version, its readiness, and the 503 without a model."""

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from service_kit.json_body import JSONBodyRoute
from service_kit.schemas import Status

from model_service import RELEASE
from model_service.deps import State, StateDep
from model_service.predictor import ModelNotReady, Prediction, Predictor
from model_service.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    PredictRequest,
    PredictResponse,
    Verdict,
    VersionResponse,
)

router = APIRouter(route_class=JSONBodyRoute)
NOT_READY = {503: {"model": Status, "description": "No model is loaded yet; the detail says why."}}


async def model_not_ready(_: Request, error: ModelNotReady) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=503)


def _predict(state: State, reviews: list[str]) -> tuple[Predictor, list[Prediction]]:
    predictor = state.model.ready_predictor()
    started = time.perf_counter()
    predictions = predictor.predict(reviews)
    state.metrics.inference_seconds.observe(time.perf_counter() - started)
    for prediction in predictions:
        state.metrics.predictions[prediction.label].inc()
    return predictor, predictions


@router.post("/v1/predict", response_model=PredictResponse, tags=["predict"], responses=NOT_READY)
async def predict(body: PredictRequest, state: StateDep) -> PredictResponse:
    """Classify one review."""
    predictor, (prediction,) = _predict(state, [body.review])
    return PredictResponse(
        label=prediction.label,
        confidence=prediction.confidence,
        model_version=predictor.manifest.model_version,
        app_version=state.settings.app_version,
    )


@router.post("/v1/predict/batch", response_model=BatchPredictResponse, tags=["predict"], responses=NOT_READY)
async def predict_batch(body: BatchPredictRequest, state: StateDep) -> BatchPredictResponse:
    """Classify many reviews in one call, in order."""
    predictor, predictions = _predict(state, body.reviews)
    return BatchPredictResponse(
        predictions=[Verdict(label=p.label, confidence=p.confidence) for p in predictions],
        model_version=predictor.manifest.model_version,
        app_version=state.settings.app_version,
    )


@router.get("/version", response_model=VersionResponse, tags=["operations"])
async def version(state: StateDep) -> VersionResponse:
    predictor, settings = state.model.predictor, state.settings
    return VersionResponse(
        release=RELEASE,
        app_version=settings.app_version,
        model_version=settings.model_version,
        model_sha256=predictor.manifest.sha256 if predictor else None,
        inference_path=predictor.inference_path if predictor else None,
        evaluation=predictor.manifest.evaluation if predictor else None,
    )


async def readiness(state: StateDep) -> Status:
    """Ready only once the pinned model is loaded; otherwise 503 and the reason."""
    if state.model.predictor is None:
        return Status(status="not ready", detail=state.model.problem)
    return Status(status="ready")
