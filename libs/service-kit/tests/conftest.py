"""A service of the kit's own, as small as one can be: a JSON route, a state, a readiness, an error."""

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel
from service_kit.app import ServiceInfo, service_app, service_state
from service_kit.json_body import JSONBodyRoute
from service_kit.metrics import ServiceMetrics
from service_kit.schemas import Status
from service_kit.settings import ServiceSettings
from support.clients import started_clients

ORIGIN = "http://page.test"


class Review(BaseModel):
    review: str


class Refused(Exception):
    """A domain error, answered by a handler the service registers."""


class Ready:
    def __init__(self) -> None:
        self.ready = False


def demo_app(max_request_bytes: int | None = 2048, **settings: object) -> FastAPI:
    router = APIRouter(route_class=JSONBodyRoute)

    @router.post("/reviews")
    async def post_review(body: Review, state: Ready = Depends(service_state)) -> dict:  # noqa: B008
        if body.review == "refuse":
            raise Refused("refused by the domain")
        return {"review": body.review, "ready": state.ready}

    async def readiness(state: Ready = Depends(service_state)) -> Status:  # noqa: B008
        """Ready when the state says so."""
        return Status(status="ready") if state.ready else Status(status="not ready", detail="not yet")

    async def refused(_: Request, error: Refused) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[Ready]:
        yield Ready()

    service_settings = ServiceSettings(**settings)
    return service_app(
        ServiceInfo("demo-service", "9.9.9", "The kit's own test service."),
        service_settings,
        ServiceMetrics("demo-service", service_settings.app_version, "9.9.9"),
        lifespan,
        routers=[router],
        readiness=readiness,
        exception_handlers={Refused: refused},
        cors={"allow_origins": [ORIGIN], "allow_methods": ["POST"], "expose_headers": ["X-Served-By"]},
        max_request_bytes=max_request_bytes,
    )


@pytest.fixture
def make_app():
    """demo_app(max_request_bytes=..., **settings): the kit's own service, not started."""
    return demo_app


@pytest.fixture
def origin() -> str:
    """The page's origin, which the demo service allows."""
    return ORIGIN


@pytest.fixture
def make_client() -> Iterator:
    """make_client(**options): the demo service started with demo_app's options, closed after the test."""
    with started_clients() as start:
        yield lambda **options: start(demo_app(**options))


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
