"""Gets a model release into the cache volume, and the verified artifact out of it.

Two kinds of release live in the cache: the published ones, downloaded into
`<cache>/<version>/` (MODEL_SOURCE=release), and those `model-service prepare`
trained in place, in `<cache>/trained/<version>/` (MODEL_SOURCE=trained), which
are read from there and never downloaded.

The rules, in order of importance:
- the artifact is never unpickled before its sha256 matches the pin, and the
  bytes that are unpickled are the very bytes that were hashed;
- the cache only ever holds complete, verified releases: downloads land in a
  staging folder beside it and are renamed in; a cache hit is verified again;
- two processes sharing the volume take a file lock, so one downloads and the
  other finds the finished release;
- with the pinned release cached, no network is touched.
"""

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
from filelock import FileLock, Timeout
from pydantic import ValidationError

from model_service.integrity import sha256_bytes
from model_service.manifest import ARTIFACT_NAME, MANIFEST_NAME, ModelManifest
from model_service.settings import Settings

log = logging.getLogger(__name__)

# A release is two small files; anything far larger is not one of ours.
MAX_ASSET_BYTES = 256 * 1024 * 1024
_CHUNK_BYTES = 1 << 16


class ModelFetchError(Exception):
    """The pinned release could not be obtained; the message is one line for the log."""


class _Retryable(ModelFetchError):
    """A failure worth another attempt: a timeout, a dropped connection, a 5xx."""


@dataclass(frozen=True)
class VerifiedModel:
    manifest: ModelManifest
    artifact: bytes
    path: Path


@dataclass(frozen=True)
class ReleaseSource:
    """Where release assets live: a URL template over repository, version and asset."""

    url_template: str
    repository: str

    def url(self, version: str, asset: str) -> str:
        return self.url_template.format(repository=self.repository, version=version, asset=asset)


class ModelStore:
    def __init__(
        self,
        cache_dir: Path,
        source: ReleaseSource,
        *,
        timeout_seconds: float = 30.0,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
        lock_timeout_seconds: float = 600.0,
    ) -> None:
        self._cache_dir = cache_dir
        self._source = source
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0))
        self._attempts = attempts
        self._backoff_seconds = backoff_seconds
        self._lock_timeout_seconds = lock_timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> "ModelStore":
        return cls(
            settings.model_cache_dir,
            ReleaseSource(settings.model_url_template, settings.model_repository),
            timeout_seconds=settings.model_download_timeout_seconds,
            attempts=settings.model_download_attempts,
        )

    def fetch(self, version: str, pinned_sha256: str | None) -> VerifiedModel:
        """Return the verified release, downloading it first unless the cache has it.

        Without a pin, the release's own manifest names the digest (integrity
        only, no authenticity); the caller decides whether that is allowed.
        """
        try:
            self._cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ModelFetchError(f"model cache {self._cache_dir} is not writable: {error.strerror}") from None
        release_dir = self._cache_dir / version
        lock = FileLock(self._cache_dir / f".{version}.lock", timeout=self._lock_timeout_seconds)
        try:
            with lock:
                if release_dir.exists():
                    try:
                        return read_verified(release_dir, version, pinned_sha256)
                    except ModelFetchError as error:
                        log.warning("cached model is unusable, downloading it again: %s", error)
                        shutil.rmtree(release_dir)
                try:
                    self._download(version, pinned_sha256, release_dir)
                except ModelFetchError as error:
                    wanted = f"sha256 {pinned_sha256}" if pinned_sha256 else "unpinned"
                    raise ModelFetchError(f"cannot fetch model {version} ({wanted}): {error}") from None
                return read_verified(release_dir, version, pinned_sha256)
        except Timeout:
            raise ModelFetchError(
                f"another process held the lock on {release_dir} for {self._lock_timeout_seconds:.0f}s"
            ) from None

    def _download(self, version: str, pinned_sha256: str | None, release_dir: Path) -> None:
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=self._cache_dir))
        try:
            manifest_url = self._source.url(version, MANIFEST_NAME)
            self._copy_with_retries(manifest_url, staging / MANIFEST_NAME)
            manifest = _parse_manifest(staging / MANIFEST_NAME, manifest_url, version)
            expected = _expected_digest(manifest, pinned_sha256, manifest_url)
            artifact_url = self._source.url(version, ARTIFACT_NAME)
            digest = self._copy_with_retries(artifact_url, staging / ARTIFACT_NAME)
            if digest != expected:
                raise ModelFetchError(f"{artifact_url} has sha256 {digest}, refused")
            staging.rename(release_dir)
            log.info("model %s downloaded and verified into %s", version, release_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _copy_with_retries(self, url: str, target: Path) -> str:
        """Copy one asset to `target`, returning the sha256 of what was written."""
        for attempt in range(1, self._attempts + 1):
            try:
                return _copy(url, target, self._timeout)
            except _Retryable as error:
                if attempt == self._attempts:
                    raise ModelFetchError(f"{error} (gave up after {attempt} attempts)") from None
                delay = self._backoff_seconds * 2 ** (attempt - 1)
                log.warning("%s; retrying in %.1fs", error, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")


def _copy(url: str, target: Path, timeout: httpx.Timeout) -> str:
    digest = _Sha256Writer(target)
    with digest:
        for chunk in _chunks(url, timeout):
            digest.write(chunk, url)
    return digest.hexdigest()


def _chunks(url: str, timeout: httpx.Timeout) -> Iterator[bytes]:
    scheme = urlparse(url).scheme
    if scheme in ("http", "https"):
        yield from _http_chunks(url, timeout)
    elif scheme in ("file", ""):
        yield from _file_chunks(Path(unquote(urlparse(url).path)) if scheme else Path(url))
    else:
        raise ModelFetchError(f"cannot fetch {url}: only http(s)://, file:// and plain paths are supported")


def _http_chunks(url: str, timeout: httpx.Timeout) -> Iterator[bytes]:
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise _Retryable(f"GET {url}: HTTP {response.status_code} {response.reason_phrase}")
            if response.status_code != 200:
                raise ModelFetchError(f"GET {url}: HTTP {response.status_code} {response.reason_phrase}")
            yield from response.iter_bytes(_CHUNK_BYTES)
    except httpx.TimeoutException:
        raise _Retryable(f"GET {url}: timed out after {timeout.read:.0f}s") from None
    except httpx.TransportError as error:
        raise _Retryable(f"GET {url}: {type(error).__name__}: {error or 'connection failed'}") from None


def _file_chunks(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK_BYTES):
                yield chunk
    except OSError as error:
        raise ModelFetchError(f"cannot read {path}: {error.strerror}") from None


class _Sha256Writer:
    """Writes chunks to a file while hashing them, refusing oversized assets."""

    def __init__(self, target: Path) -> None:
        self._hash = hashlib.sha256()
        self._size = 0
        self._file = target.open("wb")

    def __enter__(self) -> "_Sha256Writer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def write(self, chunk: bytes, url: str) -> None:
        self._size += len(chunk)
        if self._size > MAX_ASSET_BYTES:
            raise ModelFetchError(f"{url} is larger than {MAX_ASSET_BYTES} bytes; not a model release")
        self._hash.update(chunk)
        self._file.write(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _parse_manifest(path: Path, where: str, version: str) -> ModelManifest:
    try:
        manifest = ModelManifest.read(path)
    except (OSError, ValidationError, ValueError) as error:
        first_line = str(error).splitlines()[0]
        raise ModelFetchError(f"{where} is not a valid model manifest: {first_line}") from None
    if manifest.model_version != version:
        raise ModelFetchError(f"{where} describes model {manifest.model_version}, expected {version}")
    return manifest


def _expected_digest(manifest: ModelManifest, pinned_sha256: str | None, where: str) -> str:
    if pinned_sha256 is None:
        log.warning(
            "no pinned sha256 (MODEL_ALLOW_UNPINNED): trusting %s, which names sha256 %s; pin it with MODEL_SHA256=%s",
            where,
            manifest.sha256,
            manifest.sha256,
        )
        return manifest.sha256
    if manifest.sha256 != pinned_sha256:
        raise ModelFetchError(f"{where} names sha256 {manifest.sha256}, refused")
    return pinned_sha256


def read_trained(trained_dir: Path, version: str, pinned_sha256: str | None) -> VerifiedModel:
    """The release `model-service prepare` trained into the cache, verified; nothing is downloaded.

    No lock is needed: a trained release appears by a rename, whole, and never changes.
    """
    release_dir = trained_dir / version
    if not release_dir.is_dir():
        raise ModelFetchError(
            f"no model {version} trained in {trained_dir} yet (MODEL_SOURCE=trained): the one-shot step "
            "`model-service prepare` trains it there (docker compose: the service model-prepare; "
            "Kubernetes: the init container prepare-model)"
        )
    return read_verified(release_dir, version, pinned_sha256)


def read_verified(release_dir: Path, version: str, pinned_sha256: str | None) -> VerifiedModel:
    """The release in `release_dir`, if its manifest names `version` and its artifact has the expected digest:
    the pin, or without one the digest its own manifest names."""
    manifest_path = release_dir / MANIFEST_NAME
    manifest = _parse_manifest(manifest_path, str(manifest_path), version)
    expected = pinned_sha256 or manifest.sha256
    artifact_path = release_dir / ARTIFACT_NAME
    try:
        artifact = artifact_path.read_bytes()
    except OSError as error:
        raise ModelFetchError(f"cannot read {artifact_path}: {error.strerror}") from None
    digest = sha256_bytes(artifact)
    if digest != expected:
        raise ModelFetchError(f"refusing {artifact_path}: sha256 {digest}, expected {expected}")
    return VerifiedModel(manifest=manifest, artifact=artifact, path=artifact_path)
