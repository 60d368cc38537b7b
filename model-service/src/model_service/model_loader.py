"""Start-up: obtain, verify and load the model, retrying until it works.

The service stays up (alive, not ready) while the model host is unreachable,
or while the model trained in place is not there yet, so it becomes ready by
itself once it is, and `/readyz` says why it is not ready in the meantime.
"""

import asyncio
import functools
import logging
import time
from collections.abc import Callable

from model_service.metrics import Metrics
from model_service.model_store import ModelFetchError, ModelStore, VerifiedModel, read_trained
from model_service.predictor import ModelLoadError, ModelState, Predictor
from model_service.settings import Settings

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 60.0


def model_source(settings: Settings) -> Callable[[], VerifiedModel]:
    """What obtains the verified model MODEL_SOURCE names: the published release, downloaded into the cache
    unless it is there; or the release trained into the cache, read from it and never downloaded."""
    if settings.model_source == "trained":
        return functools.partial(read_trained, settings.trained_dir, settings.model_version, settings.pinned_sha256)
    store = ModelStore.from_settings(settings)
    return functools.partial(store.fetch, settings.model_version, settings.pinned_sha256)


async def load_until_ready(
    state: ModelState,
    obtain: Callable[[], VerifiedModel],
    metrics: Metrics,
    first_retry_delay_seconds: float = 1.0,
) -> None:
    delay = first_retry_delay_seconds
    while True:
        started = time.perf_counter()
        try:
            verified = await asyncio.to_thread(obtain)
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
