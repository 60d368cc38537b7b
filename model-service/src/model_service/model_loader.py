"""Start-up: fetch, verify and load the pinned model, retrying until it works.

The service stays up (alive, not ready) while the model host is unreachable,
so it becomes ready by itself once the host is back, and `/readyz` says why
it is not ready in the meantime.
"""

import asyncio
import logging
import time

from model_service.metrics import Metrics
from model_service.model_store import ModelFetchError, ModelStore
from model_service.predictor import ModelLoadError, ModelState, Predictor

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 60.0


async def load_until_ready(
    state: ModelState,
    store: ModelStore,
    version: str,
    pinned_sha256: str | None,
    metrics: Metrics,
    first_retry_delay_seconds: float = 1.0,
) -> None:
    delay = first_retry_delay_seconds
    while True:
        started = time.perf_counter()
        try:
            verified = await asyncio.to_thread(store.fetch, version, pinned_sha256)
            predictor = await asyncio.to_thread(Predictor.load, verified)
        except (ModelFetchError, ModelLoadError) as error:
            state.failed(str(error))
            log.error("model not loaded: %s; retrying in %.0fs", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)
            continue
        seconds = time.perf_counter() - started
        state.loaded(predictor)
        metrics.model_loaded(predictor.manifest, seconds)
        log.info(
            "model %s (sha256 %s, CV accuracy %.3f, %s inference) ready in %.2fs",
            predictor.manifest.model_version,
            predictor.manifest.sha256,
            predictor.manifest.evaluation.accuracy_mean,
            predictor.inference_path,
            seconds,
        )
        return
