"""HTTP routes of the app-service: the public API under /api/v1 and the operations endpoints."""

import hmac
import logging
import secrets
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, Security
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app_service.json_body import JSONBodyRoute
from app_service.metrics import Metrics
from app_service.model_client import ModelClient, ModelServiceError
from app_service.schemas import (
    FeedbackRequest,
    FeedbackResponse,
    ReadyStatus,
    ReviewRequest,
    SentimentResponse,
    Status,
    VersionResponse,
    Versions,
)
from app_service.settings import Settings
from app_service.store import FeedbackOutcome, NewReview, ReviewStore, StoreError
from app_service.training_data import MEDIA_TYPE, format_training_tsv

log = logging.getLogger(__name__)
RELEASE = package_version("app-service")
ARMS = ("stable", "canary")
ERRORS = {
    503: {"model": Status, "description": "The model-service or the store is unavailable; try again."},
    502: {"model": Status, "description": "The model-service gave an answer this service cannot use."},
}


@dataclass(frozen=True)
class Services:
    """What the routes use, opened once per process: a request resolves this one dependency
    rather than one per object (FastAPI spends tens of microseconds on each)."""

    settings: Settings
    metrics: Metrics
    store: ReviewStore
    model: ModelClient


async def get_services(request: Request) -> Services:
    return request.app.state.services


Context = Annotated[Services, Depends(get_services)]


async def count_header_version(request: Request, services: Context) -> None:
    """Records which arm the caller's X-App-Version names; any other value is only ever counted as 'invalid'."""
    value = request.headers.get("x-app-version")
    services.metrics.header_versions["absent" if value is None else value if value in ARMS else "invalid"].inc()


export_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The EXPORT_API_KEY.")


async def require_export_key(key: Annotated[str | None, Security(export_key_header)], services: Context) -> None:
    expected = services.settings.export_api_key.get_secret_value()
    if not expected:
        raise HTTPException(503, detail="the export is disabled: no EXPORT_API_KEY is configured")
    if key is None or not hmac.compare_digest(key.encode(), expected.encode()):
        raise HTTPException(401, detail="a valid X-API-Key header is required")


api = APIRouter(prefix="/api/v1", dependencies=[Depends(count_header_version)], route_class=JSONBodyRoute)
operations = APIRouter(tags=["operations"])


@api.post("/sentiment", response_model=SentimentResponse, tags=["reviews"], responses=ERRORS)
async def classify_review(body: ReviewRequest, services: Context) -> SentimentResponse:
    """Classify a review with the model-service and store both; the id is for the user's feedback."""
    model, store, metrics, settings = services.model, services.store, services.metrics, services.settings
    try:
        prediction = await model.predict(body.review)
    except ModelServiceError as error:
        raise HTTPException(502 if error.reason == "bad_response" else 503, detail=str(error)) from error
    review = NewReview(
        id=secrets.token_urlsafe(16),
        review=body.review,
        predicted_label=prediction.label,
        confidence=prediction.confidence,
        model_version=prediction.model_version,
        model_service_version=prediction.app_version,
        app_version=settings.app_version,
    )
    try:
        await store.add(review)
    except StoreError as error:
        log.error("%s", error)
        raise HTTPException(503, detail=f"{error}; nothing was saved, please try again") from error
    metrics.reviews_submitted.inc()
    metrics.predictions[prediction.label].inc()
    metrics.awaiting_feedback.inc()
    return SentimentResponse(
        id=review.id,
        label=prediction.label,
        confidence=prediction.confidence if settings.show_confidence else None,
        versions=Versions(
            app_service=settings.app_version,
            model_service=prediction.app_version,
            model=prediction.model_version,
        ),
    )


@api.post(
    "/reviews/{review_id}/feedback",
    response_model=FeedbackResponse,
    tags=["reviews"],
    responses={404: {"model": Status}, 409: {"model": Status}, 503: ERRORS[503]},
)
async def give_feedback(
    review_id: Annotated[str, Path(max_length=64)],
    body: FeedbackRequest,
    services: Context,
) -> FeedbackResponse:
    """Confirm or correct a prediction. Repeating the same feedback changes nothing; a different one is a 409."""
    store, metrics = services.store, services.metrics
    try:
        feedback = await store.record_feedback(review_id, body.label)
    except StoreError as error:
        log.error("%s", error)
        raise HTTPException(503, detail=f"{error}; please try again") from error
    if feedback is None:
        raise HTTPException(404, detail="no review with this id")
    if feedback.outcome is FeedbackOutcome.CONFLICT:
        raise HTTPException(409, detail=f"feedback for this review was already given: {feedback.feedback_label}")
    corrected = feedback.predicted_label != body.label
    if feedback.outcome is FeedbackOutcome.RECORDED:
        metrics.feedback["corrected" if corrected else "confirmed"].inc()
        metrics.awaiting_feedback.dec()
        if corrected:
            metrics.corrections[feedback.predicted_label, body.label].inc()
    return FeedbackResponse(
        id=review_id,
        label=body.label,
        predicted_label=feedback.predicted_label,
        outcome="corrected" if corrected else "confirmed",
    )


@api.get(
    "/reviews/export",
    tags=["reviews"],
    response_class=Response,
    responses={
        200: {"content": {"text/tab-separated-values": {}}, "description": "The training TSV (Review, Liked)."},
        401: {"model": Status},
        503: {"model": Status, "description": "No EXPORT_API_KEY is configured, or the store is unavailable."},
    },
    dependencies=[Depends(require_export_key)],
)
async def export_reviews(services: Context) -> Response:
    """The reviews users gave feedback on, labelled by the users, in the training CLI's TSV format."""
    try:
        reviews = await services.store.labelled_reviews()
    except StoreError as error:
        raise HTTPException(503, detail=str(error)) from error
    return Response(
        format_training_tsv(reviews),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="reviews.tsv"', "Cache-Control": "no-store"},
    )


@api.get("/version", response_model=VersionResponse, tags=["operations"])
async def version(services: Context) -> VersionResponse:
    """This service's version and that of the model-service behind it."""
    settings = services.settings
    try:
        model_service, problem = await services.model.version(), ""
    except ModelServiceError as error:
        model_service, problem = None, str(error)
    return VersionResponse(
        release=RELEASE, app_version=settings.app_version, model_service=model_service, model_service_problem=problem
    )


@operations.get("/healthz", response_model=Status)
async def healthz() -> Status:
    """Alive: the process answers."""
    return Status(status="ok")


@operations.get("/readyz", response_model=ReadyStatus, responses={503: {"model": ReadyStatus}})
async def readyz(
    response: Response,
    services: Context,
) -> ReadyStatus:
    """Ready when the store answers. The model-service's state is reported, never failed on:
    a model-service outage must not take the app-service out of its Service too."""
    model_service = await services.model.readiness()
    try:
        await services.store.check()
    except StoreError as error:
        response.status_code = 503
        return ReadyStatus(status="not ready", detail=str(error), model_service=model_service)
    return ReadyStatus(status="ready", model_service=model_service)


@operations.get("/metrics")
async def metrics_endpoint(services: Context) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
