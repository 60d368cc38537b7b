"""The app factory: wires settings, metrics, the store, the model-service client and the routes."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware

from app_service.body_limit import BodySizeLimitMiddleware
from app_service.invalid_input import invalid_input
from app_service.metrics import Metrics, RequestMetricsMiddleware
from app_service.model_client import ModelClient, build_http_client
from app_service.routes import RELEASE, Services, api, operations
from app_service.served_by import ServedByMiddleware
from app_service.settings import Settings
from app_service.store import open_store


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics(settings.app_version, RELEASE)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.database_path)
        metrics.awaiting_feedback.set(await store.count_awaiting_feedback())
        http = build_http_client(
            str(settings.model_service_url),
            connect_timeout=settings.model_service_connect_timeout_seconds,
            read_timeout=settings.model_service_timeout_seconds,
        )
        model = ModelClient(http, metrics)
        app.state.services = Services(settings, metrics, store, model)
        try:
            yield
        finally:
            await http.aclose()
            store.close()

    app = FastAPI(
        title="app-service",
        version=RELEASE,
        summary="Classifies restaurant reviews through the model-service and keeps the users' feedback.",
        lifespan=lifespan,
        exception_handlers={RequestValidationError: invalid_input},
    )
    # The last added runs first: X-Served-By and metrics see every answer, CORS headers reach a 413 too.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "X-App-Version"],
        expose_headers=["X-Served-By"],
        max_age=600,
    )
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_middleware(ServedByMiddleware, service="app-service", app_version=settings.app_version)
    app.include_router(api)
    app.include_router(operations)
    metrics.start_api_at_zero(api.routes)
    return app
