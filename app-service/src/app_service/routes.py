"""HTTP routes of the app-service: the public API under /api/v1, its readiness, and its errors' answers."""

import hmac
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from service_kit.json_body import JSONBodyRoute
from service_kit.schemas import Status
from service_kit.settings import ARMS
from service_kit.visitor_id import is_visitor_id

from app_service import RELEASE
from app_service.deps import StateDep
from app_service.model_client import ModelServiceError
from app_service.schemas import (
    FeedbackRequest,
    FeedbackResponse,
    ReadyStatus,
    ReviewRequest,
    SentimentResponse,
    VersionResponse,
    Versions,
)
from app_service.store import FeedbackOutcome, NewReview, StoreError
from app_service.training_data import MEDIA_TYPE, format_training_tsv
from app_service.visitor_sums import ONE_REVIEW, add_to, one_feedback

log = logging.getLogger(__name__)
ERRORS = {
    503: {"model": Status, "description": "The model-service or the store is unavailable; try again."},
    502: {"model": Status, "description": "The model-service gave an answer this service cannot use."},
}


async def store_failed(_: Request, error: StoreError) -> JSONResponse:
    """A store that cannot read or write: a 503 saying what was not done. Never a review reported stored that is not."""
    log.error("%s", error)
    return JSONResponse({"detail": f"{error}; please try again"}, status_code=503)


async def model_service_failed(_: Request, error: ModelServiceError) -> JSONResponse:
    """A 502 for an answer of the model-service this service cannot use, else a 503 (down, failing, too slow)."""
    return JSONResponse({"detail": str(error)}, status_code=502 if error.reason == "bad_response" else 503)


async def count_header_version(request: Request, state: StateDep) -> None:
    """Records which arm the caller's X-App-Version names; any other value is only ever counted as 'invalid'."""
    value = request.headers.get("x-app-version")
    state.metrics.header_versions["absent" if value is None else value if value in ARMS else "invalid"].inc()


export_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The EXPORT_API_KEY.")


async def require_export_key(key: Annotated[str | None, Security(export_key_header)], state: StateDep) -> None:
    expected = state.settings.export_api_key.get_secret_value()
    if not expected:
        raise HTTPException(503, detail="the export is disabled: no EXPORT_API_KEY is configured")
    if key is None or not hmac.compare_digest(key.encode(), expected.encode()):
        raise HTTPException(401, detail="a valid X-API-Key header is required")


api = APIRouter(prefix="/api/v1", dependencies=[Depends(count_header_version)], route_class=JSONBodyRoute)


VisitorIdHeader = Annotated[
    str | None,
    Header(
        alias="X-Visitor-Id",
        description="The visitor's random id (22 URL-safe characters), stored with the review; any other value is "
        "stored as none.",
    ),
]


@api.post("/sentiment", response_model=SentimentResponse, tags=["reviews"], responses=ERRORS)
async def classify_review(
    body: ReviewRequest, state: StateDep, visitor_id: VisitorIdHeader = None
) -> SentimentResponse:
    """Classify a review with the model-service and store both, with the visitor and the experiment; the id is for
    the user's feedback."""
    model, store, metrics, settings = state.model, state.store, state.metrics, state.settings
    visitor_header = "absent" if visitor_id is None else "valid" if is_visitor_id(visitor_id) else "invalid"
    prediction = await model.predict(body.review)
    review = NewReview(
        id=secrets.token_urlsafe(16),
        review=body.review,
        predicted_label=prediction.label,
        confidence=prediction.confidence,
        model_version=prediction.model_version,
        model_service_version=prediction.app_version,
        app_version=settings.app_version,
        visitor_id=visitor_id if visitor_header == "valid" else None,  # anything else is never kept nor echoed
        experiment_id=settings.experiment_id,
    )
    visitor = await store.add(review)
    metrics.reviews_submitted.inc()
    metrics.predictions[prediction.label].inc()
    metrics.awaiting_feedback.inc()
    metrics.visitor_id_headers[visitor_header].inc()
    add_to(metrics.visitor_sums, visitor, ONE_REVIEW)
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
    state: StateDep,
) -> FeedbackResponse:
    """Confirm or correct a prediction. Repeating the same feedback changes nothing; a different one is a 409.
    The feedback counts for the visitor who wrote the review."""
    store, metrics = state.store, state.metrics
    feedback = await store.record_feedback(review_id, body.label)
    if feedback is None:
        raise HTTPException(404, detail="no review with this id")
    if feedback.outcome is FeedbackOutcome.CONFLICT:
        raise HTTPException(409, detail=f"feedback for this review was already given: {feedback.feedback_label}")
    corrected = feedback.predicted_label != body.label
    if feedback.outcome is FeedbackOutcome.RECORDED:
        assert feedback.visitor is not None  # the store counts every recorded feedback for its visitor
        metrics.feedback["corrected" if corrected else "confirmed"].inc()
        metrics.awaiting_feedback.dec()
        if corrected:
            metrics.corrections[feedback.predicted_label, body.label].inc()
        add_to(metrics.visitor_sums, feedback.visitor, one_feedback(corrected))
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
async def export_reviews(state: StateDep) -> Response:
    """The reviews users gave feedback on, labelled by the users, in the training CLI's TSV format."""
    return Response(
        format_training_tsv(await state.store.labelled_reviews()),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="reviews.tsv"', "Cache-Control": "no-store"},
    )


@api.get("/version", response_model=VersionResponse, tags=["operations"])
async def version(state: StateDep) -> VersionResponse:
    """This service's version and that of the model-service behind it."""
    settings = state.settings
    try:
        model_service, problem = await state.model.version(), ""
    except ModelServiceError as error:
        model_service, problem = None, str(error)
    return VersionResponse(
        release=RELEASE, app_version=settings.app_version, model_service=model_service, model_service_problem=problem
    )


async def readiness(state: StateDep) -> ReadyStatus:
    """Ready when the store answers. The model-service's state is reported, never failed on:
    a model-service outage must not take the app-service out of its Service too, nor a slow one: its answer is
    awaited for MODEL_SERVICE_READINESS_TIMEOUT_SECONDS at most, within the kubelet's probe timeout."""
    model_service = await state.model.readiness(state.settings.model_service_readiness_timeout_seconds)
    try:
        await state.store.check()
    except StoreError as error:
        return ReadyStatus(status="not ready", detail=str(error), model_service=model_service)
    return ReadyStatus(status="ready", model_service=model_service)
