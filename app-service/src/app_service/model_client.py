"""Calls to the model-service through one pooled HTTP client.

Every failure becomes a `ModelServiceError` whose `reason` (unavailable,
timeout, bad_response) labels a metric and whose message tells the user what
happened. A call is retried once, and only when the connection failed before
an answer came: a prediction has no side effects, so the retry is safe, and a
timeout is never retried, so a slow model-service costs one timeout, not two.
"""

import asyncio
import logging
import time
from typing import Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from app_service.metrics import Metrics
from app_service.schemas import ModelServiceVersion

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
ErrorReason = Literal["unavailable", "timeout", "bad_response"]
# The connection failed or dropped before an answer: refused, reset, or a pooled
# keep-alive connection the server had already closed. Timeouts are not among them.
_CONNECTION_ERRORS = (httpx.NetworkError, httpx.RemoteProtocolError)


class ModelServiceError(Exception):
    def __init__(self, reason: ErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ModelPrediction(BaseModel):
    """The part of the model-service's `POST /v1/predict` answer this service relies on."""

    label: Literal["negative", "positive"]
    confidence: float
    model_version: str
    app_version: Literal["stable", "canary"]


def build_http_client(base_url: str, connect_timeout: float, read_timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30),
    )


class ModelClient:
    def __init__(self, http: httpx.AsyncClient, metrics: Metrics) -> None:
        self._http = http
        self._metrics = metrics

    async def predict(self, review: str) -> ModelPrediction:
        started = time.perf_counter()
        try:
            response = await self._send("POST", "/v1/predict", {"review": review}, retries=1)
            return _parse(response, ModelPrediction)
        except ModelServiceError as error:
            self._metrics.model_service_errors[error.reason].inc()
            log.warning("model-service call failed (%s): %s", error.reason, error)
            raise
        finally:
            self._metrics.prediction_latency.observe(time.perf_counter() - started)

    async def version(self) -> ModelServiceVersion:
        return _parse(await self._get("/version"), ModelServiceVersion)

    async def readiness(self, deadline_seconds: float) -> str:
        """'ready', or what keeps the model-service from being ready, within `deadline_seconds` in all (connect and
        answer, however the client's own timeouts add up); never raises."""
        try:
            async with asyncio.timeout(deadline_seconds):
                response = await self._get("/readyz")
        except TimeoutError:
            return f"unreachable: the model-service did not answer /readyz within {deadline_seconds:g} s"
        except ModelServiceError as error:
            return f"unreachable: {error}"
        return "ready" if response.status_code == 200 else f"not ready: {_detail(response)}"

    async def _get(self, path: str) -> httpx.Response:
        return await self._send("GET", path)

    async def _send(self, method: str, path: str, body: dict | None = None, retries: int = 0) -> httpx.Response:
        while True:
            try:
                return await self._http.request(method, path, json=body)
            except httpx.TimeoutException as error:
                raise ModelServiceError(
                    "timeout", f"the model-service did not answer in time ({_describe(error)})"
                ) from error
            except httpx.HTTPError as error:
                if retries > 0 and isinstance(error, _CONNECTION_ERRORS):
                    retries -= 1
                    log.info("model-service connection failed (%s); retrying", _describe(error))
                    continue
                raise ModelServiceError(
                    "unavailable", f"cannot reach the model-service ({_describe(error)})"
                ) from error


def _parse(response: httpx.Response, model: type[ModelT]) -> ModelT:
    if response.status_code != 200:
        reason: ErrorReason = "unavailable" if response.status_code >= 500 else "bad_response"
        raise ModelServiceError(reason, f"the model-service answered {response.status_code}: {_detail(response)}")
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ModelServiceError(
            "bad_response", f"unexpected answer from the model-service: {where} {problem['msg']}"
        ) from error


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else response.reason_phrase


def _describe(error: httpx.HTTPError) -> str:
    return str(error) or type(error).__name__
