"""service_app(): a service's FastAPI app, put together as every service's is.

The middlewares run in one order in every service, outermost first: X-Served-By, then the RED
metrics, then CORS where the service answers browsers from another origin, then the body limit where
it reads bodies; so X-Served-By and the metrics see every answer, and a 413 carries the CORS headers.
The state a request needs is what the service's lifespan yields, one object, which `service_state`
gives to its routes (each service's deps.py wraps it in a typed dependency).
"""

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware

from service_kit.body_limit import BodySizeLimitMiddleware
from service_kit.invalid_input import invalid_input
from service_kit.metrics import RequestMetricsMiddleware, ServiceMetrics
from service_kit.operations import Readiness, operations_router
from service_kit.schemas import Status
from service_kit.served_by import ServedByMiddleware
from service_kit.settings import ServiceSettings

# The key of the service's state in Starlette's lifespan state, which each request carries.
_STATE = "service_state"
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[object]]


@dataclass(frozen=True)
class ServiceInfo:
    """Who the service is: its name (in X-Served-By, the OpenAPI title), its release, and what it does."""

    name: str
    release: str
    summary: str


def service_app(
    service: ServiceInfo,
    settings: ServiceSettings,
    metrics: ServiceMetrics,
    lifespan: Lifespan,
    *,
    routers: Sequence[APIRouter],
    readiness: Readiness,
    ready_model: type[Status] = Status,
    exception_handlers: Mapping[type[Exception], Callable[..., Any]] | None = None,
    cors: Mapping[str, Any] | None = None,
    max_request_bytes: int | None = None,
) -> FastAPI:
    """The app: `lifespan(app)` opens what the process owns and yields the state its routes use;
    `cors` are CORSMiddleware's arguments; bodies over `max_request_bytes` get a 413."""

    @contextlib.asynccontextmanager
    async def lifespan_with_state(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        async with lifespan(app) as state:
            yield {_STATE: state}

    app = FastAPI(
        title=service.name,
        version=service.release,
        summary=service.summary,
        lifespan=lifespan_with_state,
        exception_handlers={RequestValidationError: invalid_input, **(exception_handlers or {})},
        # FastAPI's own OpenTelemetry, unused (the metrics are Prometheus's): off, it no longer asks
        # OpenTelemetry for its providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # The last added runs first.
    if max_request_bytes is not None:
        app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_request_bytes)
    if cors is not None:
        app.add_middleware(CORSMiddleware, **cors)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_middleware(ServedByMiddleware, service=service.name, app_version=settings.app_version)
    for router in routers:
        app.include_router(router)
    app.include_router(operations_router(metrics, readiness, ready_model))
    return app


async def service_state(request: Request) -> Any:
    """The state the service's lifespan yielded: one dependency per request, not one per object
    (FastAPI spends tens of microseconds on each). A coroutine, because FastAPI runs a plain function's
    dependency in its thread pool: a hand-off to a worker thread and back on every request."""
    return getattr(request.state, _STATE)
