"""The endpoints operators and Kubernetes ask every service: /healthz, /readyz, /metrics."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service_kit.metrics import ServiceMetrics
from service_kit.schemas import Status

# A FastAPI dependency of the service's own (it may depend on the service's state) that says whether
# the service is ready: Status(status="ready"), or another status and why.
Readiness = Callable[..., Awaitable[Status]]


def operations_router(metrics: ServiceMetrics, readiness: Readiness, ready_model: type[Status] = Status) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Status)
    async def healthz() -> Status:
        """Alive: the process answers. Says nothing about what it depends on."""
        return Status(status="ok")

    @router.get(
        "/readyz", response_model=ready_model, responses={503: {"model": ready_model}}, description=readiness.__doc__
    )
    async def readyz(response: Response, status: Annotated[Status, Depends(readiness)]) -> Status:
        if status.status != "ready":
            response.status_code = 503
        return status

    @router.get("/metrics")
    async def metrics_endpoint() -> Response:
        """The Prometheus metrics of this process, every series labelled with its arm."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
