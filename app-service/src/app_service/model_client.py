"""Calls to the model-service through one pooled aiohttp session.

aiohttp, not httpx: on this path the HTTP client was half of the app-service's
CPU time per request, and aiohttp's C parser and leaner pool cost about a
third of httpx's CPU per call (docs/performance.md). Connections are kept
alive and reused, idle ones for 30 s.

Every failure becomes a `ModelServiceError` whose `reason` (unavailable,
timeout, bad_response) labels a metric and whose message tells the user what
happened. A call is retried once, and only when the connection failed before
an answer came: a prediction has no side effects, so the retry is safe, and a
timeout is never retried, so a slow model-service costs one timeout, not two.
"""

import json
import logging
import time
from dataclasses import dataclass
from typing import Literal, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from app_service.metrics import Metrics
from app_service.schemas import ModelServiceVersion

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
ErrorReason = Literal["unavailable", "timeout", "bad_response"]


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


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    body: bytes


def build_http_client(connect_timeout: float, read_timeout: float) -> aiohttp.ClientSession:
    """Must be called in the event loop that will use it (the app's lifespan)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout),
        # The model-service's answers are small and never compressed: skip the negotiation.
        auto_decompress=False,
    )


class ModelClient:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, metrics: Metrics) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._metrics = metrics

    async def predict(self, review: str) -> ModelPrediction:
        started = time.perf_counter()
        try:
            answer = await self._send("POST", "/v1/predict", {"review": review}, retries=1)
            return _parse(answer, ModelPrediction)
        except ModelServiceError as error:
            self._metrics.model_service_errors[error.reason].inc()
            log.warning("model-service call failed (%s): %s", error.reason, error)
            raise
        finally:
            self._metrics.prediction_latency.observe(time.perf_counter() - started)

    async def version(self) -> ModelServiceVersion:
        return _parse(await self._send("GET", "/version"), ModelServiceVersion)

    async def readiness(self) -> str:
        """'ready', or what keeps the model-service from being ready; never raises."""
        try:
            answer = await self._send("GET", "/readyz")
        except ModelServiceError as error:
            return f"unreachable: {error}"
        return "ready" if answer.status == 200 else f"not ready: {_detail(answer)}"

    async def _send(self, method: str, path: str, body: dict | None = None, retries: int = 0) -> Answer:
        while True:
            try:
                async with self._http.request(method, self._base_url + path, json=body) as response:
                    return Answer(response.status, response.reason or "", await response.read())
            except TimeoutError as error:
                raise ModelServiceError(
                    "timeout", f"the model-service did not answer in time ({_describe(error)})"
                ) from error
            except aiohttp.ClientError as error:
                # The connection failed or dropped before an answer: refused, reset, or a pooled
                # keep-alive connection the server had already closed.
                if retries > 0 and isinstance(error, aiohttp.ClientConnectionError):
                    retries -= 1
                    log.info("model-service connection failed (%s); retrying", _describe(error))
                    continue
                raise ModelServiceError(
                    "unavailable", f"cannot reach the model-service ({_describe(error)})"
                ) from error


def _parse(answer: Answer, model: type[ModelT]) -> ModelT:
    if answer.status != 200:
        reason: ErrorReason = "unavailable" if answer.status >= 500 else "bad_response"
        raise ModelServiceError(reason, f"the model-service answered {answer.status}: {_detail(answer)}")
    try:
        return model.model_validate_json(answer.body)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ModelServiceError(
            "bad_response", f"unexpected answer from the model-service: {where} {problem['msg']}"
        ) from error


def _detail(answer: Answer) -> str:
    try:
        detail = json.loads(answer.body).get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else answer.reason


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__
