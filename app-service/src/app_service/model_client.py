"""Calls to the model-service through one pooled aiohttp session.

Why aiohttp, where the design card names httpx: this call is on every review's
path, and through httpx it was the largest part of the app-service's CPU per
review, ~0.6 ms of 1.44; through aiohttp it is ~0.13 ms (py-spy profiles
under load, docs/performance.md). httpx over aiohttp's transport
(httpx-aiohttp) maps a refused or a dropped keep-alive connection to
ConnectTimeout, which would break the reasons and the retry below. So the
app-service's calls to the model-service, the hot one and its two operational
ones alike (one pool, one set of timeouts), use aiohttp directly, and httpx
stays wherever a call is off that path (the tools and the tests).

Every failure becomes a `ModelServiceError` whose `reason` (unavailable,
timeout, bad_response) labels a metric and whose message tells the user what
happened. A call is retried once, and only when the connection failed before
an answer came: a prediction has no side effects, so the retry is safe, and a
timeout is never retried, so a slow model-service costs one timeout, not two.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal, TypeVar

import aiohttp
import orjson
from pydantic import BaseModel, ValidationError
from yarl import URL

from app_service.metrics import Metrics
from app_service.schemas import ModelServiceVersion

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
ErrorReason = Literal["unavailable", "timeout", "bad_response"]
# The connection failed or dropped before an answer: refused, reset, or a pooled keep-alive connection the
# server had already closed. aiohttp's timeouts are TimeoutErrors, told apart before these are looked at.
_CONNECTION_ERRORS = (aiohttp.ClientConnectionError,)
_JSON = {"Content-Type": "application/json"}


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
class _Answer:
    status: int
    reason: str
    body: bytes


def open_session(connect_timeout: float, read_timeout: float) -> aiohttp.ClientSession:
    """The process's one pool of connections to the model-service. `connect_timeout` bounds the wait for a pooled
    connection and a new one's connect; `read_timeout` each read of the answer."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, limit_per_host=100, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout),
        auto_decompress=False,  # the model-service never compresses
    )


class ModelClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, metrics: Metrics) -> None:
        self._session = session
        base = URL(base_url)
        self._predict_url = base.join(URL("/v1/predict"))
        self._version_url = base.join(URL("/version"))
        self._readiness_url = base.join(URL("/readyz"))
        self._metrics = metrics

    async def predict(self, review: str) -> ModelPrediction:
        started = time.perf_counter()
        try:
            answer = await self._send("POST", self._predict_url, orjson.dumps({"review": review}), retries=1)
            return _parse(answer, ModelPrediction)
        except ModelServiceError as error:
            self._metrics.model_service_errors[error.reason].inc()
            log.warning("model-service call failed (%s): %s", error.reason, error)
            raise
        finally:
            self._metrics.prediction_latency.observe(time.perf_counter() - started)

    async def version(self) -> ModelServiceVersion:
        return _parse(await self._send("GET", self._version_url), ModelServiceVersion)

    async def readiness(self, deadline_seconds: float) -> str:
        """'ready', or what keeps the model-service from being ready, within `deadline_seconds` in all (connect and
        answer, however the client's own timeouts add up); never raises."""
        try:
            async with asyncio.timeout(deadline_seconds):
                answer = await self._send("GET", self._readiness_url)
        except TimeoutError:
            return f"unreachable: the model-service did not answer /readyz within {deadline_seconds:g} s"
        except ModelServiceError as error:
            return f"unreachable: {error}"
        return "ready" if answer.status == 200 else f"not ready: {_detail(answer)}"

    async def _send(self, method: str, url: URL, body: bytes | None = None, retries: int = 0) -> _Answer:
        headers = _JSON if body is not None else None
        while True:
            try:
                async with self._session.request(method, url, data=body, headers=headers) as response:
                    return _Answer(response.status, response.reason or "", await response.read())
            except TimeoutError as error:
                raise ModelServiceError(
                    "timeout", f"the model-service did not answer in time ({_describe(error)})"
                ) from error
            except aiohttp.ClientError as error:
                if retries > 0 and isinstance(error, _CONNECTION_ERRORS):
                    retries -= 1
                    log.info("model-service connection failed (%s); retrying", _describe(error))
                    continue
                raise ModelServiceError(
                    "unavailable", f"cannot reach the model-service ({_describe(error)})"
                ) from error


def _parse(answer: _Answer, model: type[ModelT]) -> ModelT:
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


def _detail(answer: _Answer) -> str:
    try:
        detail = orjson.loads(answer.body).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    return str(detail) if detail else answer.reason


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__
