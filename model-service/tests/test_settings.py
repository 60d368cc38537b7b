"""A wrong setting stops the service with one clear line."""

import pytest
from model_service.settings import Settings
from pydantic import ValidationError

PIN = "a" * 64


def test_an_unpinned_model_needs_an_explicit_opt_in():
    with pytest.raises(ValidationError, match="MODEL_SHA256 is empty"):
        Settings(model_sha256="")

    assert Settings(model_sha256="", model_allow_unpinned=True).model_allow_unpinned


def test_a_model_trained_in_place_needs_no_pin_its_own_manifest_names_the_digest():
    settings = Settings(model_source="trained", model_sha256="")

    assert settings.pinned_sha256 is None
    assert settings.trained_dir == settings.model_cache_dir / "trained"


@pytest.mark.parametrize(
    "overrides",
    [
        {"model_sha256": "ABC"},
        {"model_version": "../../etc"},
        {"model_version": "trained"},  # the folder of the trained releases
        {"model_source": "github"},
        {"app_version": "beta"},
        {"model_url_template": "https://example.com/{owner}/{asset}"},
        {"model_url_template": "https://example.com/model.joblib"},
        {"port": 0},
    ],
)
def test_invalid_settings_are_refused(overrides):
    with pytest.raises(ValidationError):
        Settings(**{"model_sha256": PIN, **overrides})
