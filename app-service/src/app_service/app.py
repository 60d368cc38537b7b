"""The app factory: the settings and metrics, the lifespan that opens the store and the model-service client."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from service_kit.app import service_app

from app_service import RELEASE, SERVICE
from app_service.deps import State
from app_service.metrics import API_STATUSES, Metrics
from app_service.model_client import ModelClient, ModelServiceError, open_session
from app_service.routes import api, model_service_failed, readiness, store_failed
from app_service.schemas import ReadyStatus
from app_service.settings import Settings
from app_service.store import ReviewStore, StoreError, open_store

log = logging.getLogger(__name__)
# How often each replica reads reviews_awaiting_feedback from the store, between its own changes to it.
RECOUNT_SECONDS = 15.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics(settings.app_version, RELEASE)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        store = await open_store(settings.database_url.get_secret_value(), settings.store_limits)
        metrics.awaiting_feedback.set(await store.count_awaiting_feedback())
        # Other replicas of this arm write to the same database: every replica's gauge follows the arm's count.
        recount = asyncio.create_task(_recount_awaiting_feedback(store, metrics))
        session = open_session(
            connect_timeout=settings.model_service_connect_timeout_seconds,
            read_timeout=settings.model_service_timeout_seconds,
        )
        try:
            yield State(settings, metrics, store, ModelClient(session, str(settings.model_service_url), metrics))
        finally:
            recount.cancel()
            await session.close()
            await store.close()

    app = service_app(
        SERVICE, settings, metrics, lifespan, routers=[api], readiness=readiness, ready_model=ReadyStatus,
        exception_handlers={StoreError: store_failed, ModelServiceError: model_service_failed},
        cors={
            "allow_origins": settings.cors_allowed_origins,
            "allow_methods": ["GET", "POST"],
            "allow_headers": ["Content-Type", "X-App-Version", "X-Visitor-Id"],
            "expose_headers": ["X-Served-By"],
            "max_age": 600,
        },
        max_request_bytes=settings.max_request_bytes,
    )  # fmt: skip
    metrics.start_requests_at_zero(api.routes, API_STATUSES)
    return app


async def _recount_awaiting_feedback(store: ReviewStore, metrics: Metrics) -> None:
    while True:
        await asyncio.sleep(RECOUNT_SECONDS)
        try:
            metrics.awaiting_feedback.set(await store.count_awaiting_feedback())
        except StoreError as error:
            log.warning("%s", error)
