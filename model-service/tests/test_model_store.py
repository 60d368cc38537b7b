"""The model store: verify before unpickling, cache only what is verified."""

import logging
import pickle
import shutil
from pathlib import Path

import pytest
from model_service.integrity import sha256_bytes
from model_service.manifest import ModelManifest
from model_service.model_store import ModelFetchError, ModelStore, ReleaseSource
from model_service.predictor import Predictor


class _WritesMarkerWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


TEST_VERSION = "v0.0.1-test"


@pytest.fixture
def release_manifest(release) -> ModelManifest:
    assert release.version == TEST_VERSION
    return release.manifest


@pytest.fixture
def source(tmp_path, release) -> Path:
    """A private copy of the test release, which each test may damage."""
    copy = tmp_path / "source"
    shutil.copytree(release.folder, copy)
    return copy


def store_for(source: Path, cache: Path) -> ModelStore:
    return ModelStore(cache, ReleaseSource(f"file://{source}/{{version}}/{{asset}}", "unused/unused"), attempts=1)


def test_first_fetch_verifies_and_caches_then_the_cache_serves_alone(source, tmp_path, release_manifest):
    cache = tmp_path / "cache"

    first = store_for(source, cache).fetch(TEST_VERSION, release_manifest.sha256)
    shutil.rmtree(source)
    second = store_for(source, cache).fetch(TEST_VERSION, release_manifest.sha256)

    assert first.artifact == second.artifact
    assert sha256_bytes(second.artifact) == release_manifest.sha256
    assert second.path == cache / TEST_VERSION / "model.joblib"
    assert Predictor.load(second).predict(["The pasta was delicious."])[0].label == "positive"


def test_plain_path_templates_work_like_file_urls(source, tmp_path, release_manifest):
    store = ModelStore(tmp_path / "cache", ReleaseSource(f"{source}/{{version}}/{{asset}}", "unused/unused"))

    assert store.fetch(TEST_VERSION, release_manifest.sha256).manifest == release_manifest


def test_a_tampered_cached_copy_is_replaced_by_a_verified_download(source, tmp_path, release_manifest):
    cache = tmp_path / "cache"
    store_for(source, cache).fetch(TEST_VERSION, release_manifest.sha256)
    (cache / TEST_VERSION / "model.joblib").write_bytes(b"corrupted")

    verified = store_for(source, cache).fetch(TEST_VERSION, release_manifest.sha256)

    assert sha256_bytes(verified.artifact) == release_manifest.sha256


def test_a_malicious_artifact_is_refused_and_never_unpickled(source, tmp_path, release_manifest):
    marker = tmp_path / "pwned"
    (source / TEST_VERSION / "model.joblib").write_bytes(pickle.dumps(_WritesMarkerWhenUnpickled(marker)))
    cache = tmp_path / "cache"

    with pytest.raises(ModelFetchError, match=r"model\.joblib has sha256 [0-9a-f]{64}, refused"):
        store_for(source, cache).fetch(TEST_VERSION, release_manifest.sha256)

    assert not marker.exists()
    assert list(cache.glob("**/model.joblib")) == []


def test_a_manifest_naming_another_digest_is_refused(source, tmp_path, release_manifest):
    evil = pickle.dumps(_WritesMarkerWhenUnpickled(tmp_path / "pwned"))
    (source / TEST_VERSION / "model.joblib").write_bytes(evil)
    forged = release_manifest.model_copy(update={"sha256": sha256_bytes(evil)})
    forged.write(source / TEST_VERSION / "model.json")

    with pytest.raises(ModelFetchError, match=f"model.json names sha256 {sha256_bytes(evil)}, refused"):
        store_for(source, tmp_path / "cache").fetch(TEST_VERSION, release_manifest.sha256)

    assert not (tmp_path / "pwned").exists()


def test_a_missing_release_is_one_error_line_naming_what_was_expected(source, tmp_path, release_manifest):
    cache = tmp_path / "cache"

    with pytest.raises(ModelFetchError) as raised:
        store_for(source, cache).fetch("v9.9.9", release_manifest.sha256)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"cannot fetch model v9.9.9 (sha256 {release_manifest.sha256}): cannot read ")
    assert "v9.9.9/model.json" in message
    assert [p.name for p in cache.iterdir()] == [".v9.9.9.lock"]


def test_unpinned_fetch_trusts_the_manifest_and_says_so(source, tmp_path, release_manifest, caplog):
    with caplog.at_level(logging.WARNING):
        verified = store_for(source, tmp_path / "cache").fetch(TEST_VERSION, None)

    assert sha256_bytes(verified.artifact) == release_manifest.sha256
    assert f"pin it with MODEL_SHA256={release_manifest.sha256}" in caplog.text


def test_a_manifest_for_another_version_is_refused(source, tmp_path, release_manifest):
    ModelManifest.model_validate({**release_manifest.model_dump(), "model_version": "v2.0.0"}).write(
        source / TEST_VERSION / "model.json"
    )

    with pytest.raises(ModelFetchError, match=r"describes model v2\.0\.0, expected v0\.0\.1-test"):
        store_for(source, tmp_path / "cache").fetch(TEST_VERSION, release_manifest.sha256)
