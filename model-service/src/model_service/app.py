"""The app factory: the settings and metrics, the lifespan that loads the model in the background."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from service_kit.app import service_app

from model_service import RELEASE, SERVICE
from model_service.deps import State
from model_service.metrics import Metrics
from model_service.model_loader import load_until_ready, model_source
from model_service.predictor import ModelNotReady, ModelState
from model_service.routes import model_not_ready, readiness, router
from model_service.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics(settings.app_version, RELEASE)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        model = ModelState()
        loading = asyncio.create_task(load_until_ready(model, model_source(settings), metrics))
        try:
            yield State(settings, metrics, model)
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading

    return service_app(
        SERVICE, settings, metrics, lifespan, routers=[router], readiness=readiness,
        exception_handlers={ModelNotReady: model_not_ready}, max_request_bytes=settings.max_request_bytes,
    )  # fmt: skip
