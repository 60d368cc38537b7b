"""The app factory: wires settings, metrics, the model store and the routes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from model_service.body_limit import BodySizeLimitMiddleware
from model_service.invalid_input import invalid_input
from model_service.metrics import Metrics, RequestMetricsMiddleware
from model_service.model_loader import load_until_ready, model_source
from model_service.predictor import ModelState
from model_service.routes import RELEASE, Serving, router
from model_service.served_by import ServedByMiddleware
from model_service.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics(settings.app_version, RELEASE)
    state = ModelState()
    obtain_model = model_source(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(load_until_ready(state, obtain_model, metrics))
        yield
        loading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loading

    app = FastAPI(
        title="model-service",
        version=RELEASE,
        summary="Restaurant-review sentiment predictions from a sha256-pinned scikit-learn model.",
        lifespan=lifespan,
        exception_handlers={RequestValidationError: invalid_input},
    )
    app.state.serving = Serving(settings, metrics, state)
    # The last added runs first: X-Served-By and metrics see every answer, a 413 included.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_middleware(ServedByMiddleware, service="model-service", app_version=settings.app_version)
    app.include_router(router)
    return app
