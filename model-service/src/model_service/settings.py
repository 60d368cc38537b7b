"""Every setting of the model-service, read once from the environment at start."""

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict
from service_kit.settings import ServiceSettings

from model_service.manifest import VERSION_PATTERN

# The project's home on GitHub, whose releases carry the model; forks set their own.
DEFAULT_REPOSITORY = "sentiment-canary/sentiment-canary"
DEFAULT_URL_TEMPLATE = "https://github.com/{repository}/releases/download/{version}/{asset}"
# The folder of the cache that holds the releases trained in place (MODEL_SOURCE=trained), beside the
# downloaded ones: a release of that name would be confused with it, so no model version may have it.
TRAINED_FOLDER = "trained"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(frozen=True, protected_namespaces=())

    model_source: Literal["release", "trained"] = Field(
        "release",
        description="release: download the published release MODEL_VERSION, pinned by MODEL_SHA256; trained: serve "
        "the release `model-service prepare` trained into the cache, checked against its own manifest "
        "(or MODEL_SHA256 if set), and download nothing.",
    )
    model_version: str = Field("v1.0.0", pattern=VERSION_PATTERN, description="Release tag of the model to serve.")
    model_sha256: str = Field("", pattern=r"^([0-9a-f]{64})?$", description="Pinned sha256 of model.joblib.")
    model_allow_unpinned: bool = Field(False, description="Accept any digest the release's own manifest names.")
    model_repository: str = Field(DEFAULT_REPOSITORY, pattern=r"^[\w.-]+/[\w.-]+$")
    model_url_template: str = Field(
        DEFAULT_URL_TEMPLATE,
        description="Where release assets live: {repository}, {version} and {asset} are filled in; "
        "http(s)://, file:// or a plain path.",
    )
    model_cache_dir: Path = Field(Path("/var/cache/model-service"), description="The mounted model volume.")
    model_download_timeout_seconds: float = Field(30.0, gt=0, le=600)
    model_download_attempts: int = Field(3, ge=1, le=10)
    max_request_bytes: int = Field(
        8_388_608,
        ge=1_024,
        le=67_108_864,
        description="Larger request bodies are refused with a 413 before they are read: a batch of 1,000 reviews of "
        "5,000 ASCII characters is 5 MB.",
    )

    @property
    def trained_dir(self) -> Path:
        """Where `model-service prepare` trains releases and MODEL_SOURCE=trained serves them from."""
        return self.model_cache_dir / TRAINED_FOLDER

    @property
    def pinned_sha256(self) -> str | None:
        return self.model_sha256 or None

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.model_version == TRAINED_FOLDER:
            raise ValueError(f"MODEL_VERSION may not be {TRAINED_FOLDER!r}: the cache's folder of trained releases")
        if self.model_source == "release" and not self.model_sha256 and not self.model_allow_unpinned:
            raise ValueError(
                "MODEL_SHA256 is empty: pin the release's sha256 (the `sha256` of its own model.json), or set "
                "MODEL_ALLOW_UNPINNED=true to trust that manifest (a warning is logged), or serve a model trained "
                "in place with MODEL_SOURCE=trained"
            )
        try:
            self.model_url_template.format(repository="r", version="v", asset="a")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"MODEL_URL_TEMPLATE may only use {{repository}}, {{version}} and {{asset}}: {error!r}"
            ) from None
        if "{asset}" not in self.model_url_template:
            raise ValueError("MODEL_URL_TEMPLATE must contain {asset}")
        return self
