"""Training a release into the model volume once, however many pods start at the same time.

`model-service prepare` runs this (MODEL_SOURCE=trained) in a one-shot
container before the server starts: the compose service model-prepare, the
init container prepare-model in Kubernetes. Several may share the volume
(stable and canary, replicas): each takes the version's file lock in the
trained folder, so one trains while the others wait, then find the finished
release and train nothing. The release is written beside its place and renamed
into it (release.write_release), so a server, which reads without the lock,
never sees half of one.
"""

import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from model_service.model_store import ModelFetchError, VerifiedModel, read_verified

log = logging.getLogger(__name__)

# Training the public data takes about a minute on two cores; a trainer that holds the lock this long is stuck.
LOCK_TIMEOUT_SECONDS = 3600.0


def train_once(
    trained_dir: Path,
    version: str,
    pinned_sha256: str | None,
    train: Callable[[], None],
    lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS,
) -> tuple[VerifiedModel, bool]:
    """The verified release `version` in `trained_dir`, trained by `train()` unless it is there already.

    Says whether this call trained it. `train` writes the release `<trained_dir>/<version>/`.
    """
    try:
        trained_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelFetchError(f"model cache {trained_dir} is not writable: {error.strerror}") from None
    lock = FileLock(trained_dir / f".{version}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another process is preparing model %s in %s; waiting for it to finish", version, trained_dir)
        try:
            lock.acquire(timeout=lock_timeout_seconds)
        except Timeout:
            raise ModelFetchError(
                f"another process held the lock on {trained_dir / version} for {lock_timeout_seconds:.0f}s"
            ) from None
    try:
        release_dir = trained_dir / version
        if release_dir.exists():
            try:
                return read_verified(release_dir, version, pinned_sha256), False
            except ModelFetchError as error:
                log.warning("the trained model is unusable, training it again: %s", error)
                shutil.rmtree(release_dir)
        _remove_abandoned_staging(trained_dir, version)
        train()
        return read_verified(release_dir, version, pinned_sha256), True
    finally:
        lock.release()


def _remove_abandoned_staging(trained_dir: Path, version: str) -> None:
    """Staging folders of this version left by a trainer that died (out of memory, say): with the lock held,
    no one else writes one. Their names are `.<version>.<suffix without a dot>` (tempfile.mkdtemp's), which
    no other version's staging folder matches."""
    staging = re.compile(re.escape(f".{version}.") + r"[^.]+")
    for path in trained_dir.iterdir():
        if path.is_dir() and staging.fullmatch(path.name):
            log.warning("removing %s, left by a training that did not finish", path)
            shutil.rmtree(path)
