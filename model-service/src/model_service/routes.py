"""HTTP routes of the model-service."""

import time
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from model_service.json_body import JSONBodyRoute
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

router = APIRouter(route_class=JSONBodyRoute)
RELEASE = package_version("model-service")


@dataclass(frozen=True)
class Serving:
    """What the routes use, made once per app: a request resolves this one dependency
    rather than one per object (FastAPI spends tens of microseconds on each)."""

    settings: Settings
    metrics: Metrics
    model: ModelState

    def predict(self, reviews: list[str]) -> tuple[Predictor, list[Prediction]]:
        predictor = self.model.predictor
        if predictor is None:
            raise HTTPException(503, detail=f"model not loaded: {self.model.problem}")
        started = time.perf_counter()
        predictions = predictor.predict(reviews)
        self.metrics.inference_seconds.observe(time.perf_counter() - started)
        for prediction in predictions:
            self.metrics.predictions[prediction.label].inc()
        return predictor, predictions


async def get_serving(request: Request) -> Serving:
    return request.app.state.serving


@router.post("/v1/predict", response_model=PredictResponse, tags=["predict"])
async def predict(body: PredictRequest, serving: Annotated[Serving, Depends(get_serving)]) -> PredictResponse:
    """Classify one review."""
    predictor, (prediction,) = serving.predict([body.review])
    return PredictResponse(
        label=prediction.label,
        confidence=prediction.confidence,
        model_version=predictor.manifest.model_version,
        app_version=serving.settings.app_version,
    )


@router.post("/v1/predict/batch", response_model=BatchPredictResponse, tags=["predict"])
async def predict_batch(
    body: BatchPredictRequest, serving: Annotated[Serving, Depends(get_serving)]
) -> BatchPredictResponse:
    """Classify many reviews in one call, in order."""
    predictor, predictions = serving.predict(body.reviews)
    return BatchPredictResponse(
        predictions=[Verdict(label=p.label, confidence=p.confidence) for p in predictions],
        model_version=predictor.manifest.model_version,
        app_version=serving.settings.app_version,
    )


@router.get("/version", response_model=VersionResponse, tags=["operations"])
async def version(serving: Annotated[Serving, Depends(get_serving)]) -> VersionResponse:
    predictor, settings = serving.model.predictor, serving.settings
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
async def readyz(response: Response, serving: Annotated[Serving, Depends(get_serving)]) -> Status:
    """Ready only once the pinned model is loaded; otherwise 503 and the reason."""
    if serving.model.predictor is None:
        response.status_code = 503
        return Status(status="not ready", detail=serving.model.problem)
    return Status(status="ready")


@router.get("/metrics", tags=["operations"])
async def metrics_endpoint(serving: Annotated[Serving, Depends(get_serving)]) -> Response:
    return Response(generate_latest(serving.metrics.registry), media_type=CONTENT_TYPE_LATEST)
