"""HTTP routes of the model-service."""

import time
from importlib.metadata import version as package_version
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from model_service.metrics import Metrics
from model_service.predictor import ModelState, Prediction, Predictor
from model_service.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    PredictRequest,
    PredictResponse,
    Status,
    Verdict,
    VersionResponse,
)
from model_service.settings import Settings

router = APIRouter()
RELEASE = package_version("model-service")


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_model_state(request: Request) -> ModelState:
    return request.app.state.model


async def ready_predictor(state: Annotated[ModelState, Depends(get_model_state)]) -> Predictor:
    if state.predictor is None:
        raise HTTPException(503, detail=f"model not loaded: {state.problem}")
    return state.predictor


def _predict(predictor: Predictor, metrics: Metrics, reviews: list[str]) -> list[Prediction]:
    started = time.perf_counter()
    predictions = predictor.predict(reviews)
    metrics.inference_seconds.observe(time.perf_counter() - started)
    for prediction in predictions:
        metrics.predictions[prediction.label].inc()
    return predictions


@router.post("/v1/predict", response_model=PredictResponse, tags=["predict"])
async def predict(
    body: PredictRequest,
    predictor: Annotated[Predictor, Depends(ready_predictor)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> PredictResponse:
    """Classify one review."""
    (prediction,) = _predict(predictor, metrics, [body.review])
    return PredictResponse(
        label=prediction.label,
        confidence=prediction.confidence,
        model_version=predictor.manifest.model_version,
        app_version=settings.app_version,
    )


@router.post("/v1/predict/batch", response_model=BatchPredictResponse, tags=["predict"])
async def predict_batch(
    body: BatchPredictRequest,
    predictor: Annotated[Predictor, Depends(ready_predictor)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> BatchPredictResponse:
    """Classify many reviews in one call, in order."""
    predictions = _predict(predictor, metrics, body.reviews)
    return BatchPredictResponse(
        predictions=[Verdict(label=p.label, confidence=p.confidence) for p in predictions],
        model_version=predictor.manifest.model_version,
        app_version=settings.app_version,
    )


@router.get("/version", response_model=VersionResponse, tags=["operations"])
async def version(
    state: Annotated[ModelState, Depends(get_model_state)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> VersionResponse:
    predictor = state.predictor
    return VersionResponse(
        release=RELEASE,
        app_version=settings.app_version,
        model_version=settings.model_version,
        model_sha256=predictor.manifest.sha256 if predictor else None,
        inference_path=predictor.inference_path if predictor else None,
        evaluation=predictor.manifest.evaluation if predictor else None,
    )


@router.get("/healthz", response_model=Status, tags=["operations"])
async def healthz() -> Status:
    """Alive: the process answers. Says nothing about the model."""
    return Status(status="ok")


@router.get("/readyz", response_model=Status, tags=["operations"], responses={503: {"model": Status}})
async def readyz(response: Response, state: Annotated[ModelState, Depends(get_model_state)]) -> Status:
    """Ready only once the pinned model is loaded; otherwise 503 and the reason."""
    if state.predictor is None:
        response.status_code = 503
        return Status(status="not ready", detail=state.problem)
    return Status(status="ready")


@router.get("/metrics", tags=["operations"])
async def metrics_endpoint(metrics: Annotated[Metrics, Depends(get_metrics)]) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
