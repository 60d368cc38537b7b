"""Every setting of the app-service, read once from the environment at start."""

from typing import Annotated

from pydantic import Field, HttpUrl, SecretStr, field_validator
from pydantic_settings import NoDecode
from service_kit.settings import ServiceSettings

from app_service.store import POSTGRESQL_SCHEMES, SQLITE_PREFIX, StoreLimits


class Settings(ServiceSettings):
    model_service_url: HttpUrl = Field(HttpUrl("http://model-service"), description="Base URL of the model-service.")
    model_service_connect_timeout_seconds: float = Field(0.5, gt=0, le=30)
    model_service_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="Read timeout of one call to the model-service; then the answer is a 503."
    )
    model_service_readiness_timeout_seconds: float = Field(
        0.5,
        gt=0,
        le=30,
        description="The most /readyz waits for the model-service's readiness, which it reports: within the "
        "kubelet's probe timeout (1 s by default), so a slow model-service never makes this service NotReady.",
    )
    database_url: SecretStr = Field(
        SecretStr("sqlite:////var/lib/app-service/reviews.db"),
        description="sqlite:///relative/path or sqlite:////absolute/path (a volume per arm), or "
        "postgresql://user:password@host:port/database (one database per arm; the user and password may also come "
        "from PGUSER and PGPASSWORD).",
    )
    database_pool_size: int = Field(10, ge=1, le=100, description="PostgreSQL: connections per process, at most.")
    database_connect_timeout_seconds: float = Field(2.0, gt=0, le=60, description="PostgreSQL: to open a connection.")
    database_timeout_seconds: float = Field(
        2.0, gt=0, le=60,
        description="PostgreSQL: the wait for a free connection, and a statement's (the server cancels it); "
        "past it the answer is a 503.",
    )  # fmt: skip
    export_api_key: SecretStr = Field(
        SecretStr(""), description="Key for GET /api/v1/reviews/export (header X-API-Key); empty disables the export."
    )
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins of the frontend allowed to call the API."
    )
    show_confidence: bool = Field(False, description="Include the model's confidence in answers (feature flag).")
    experiment_id: str = Field(
        "",
        pattern=r"^([a-z0-9][a-z0-9-]{0,62})?$",
        description="The id of the declared experiment this arm takes part in, stored with each review; empty: none.",
    )
    max_request_bytes: int = Field(
        65_536, ge=1_024, le=10_485_760, description="Larger request bodies are refused with a 413 before parsing."
    )

    @field_validator("database_url")
    @classmethod
    def _known_store(cls, url: SecretStr) -> SecretStr:
        value = url.get_secret_value()
        if value.startswith(POSTGRESQL_SCHEMES) and len(value.split("://", 1)[1]) > 0:
            return url
        if value.startswith(SQLITE_PREFIX) and value != SQLITE_PREFIX:
            return url
        raise ValueError(
            f"must be sqlite:///path or postgresql://user:password@host:port/database (got {value.split(':', 1)[0]!r})"
        )

    @field_validator("export_api_key")
    @classmethod
    def _long_enough(cls, key: SecretStr) -> SecretStr:
        if 0 < len(key.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (or empty to disable the export)")
        return key

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins_are_urls(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*":
                raise ValueError("'*' is not allowed: list the frontend's origins")
            if not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]:
                raise ValueError(f"{origin!r} is not an origin like https://app-frontend.example")
        return origins

    @property
    def database_path(self) -> str | None:
        """The SQLite file (sqlite:///var/x.db is relative, sqlite:////var/x.db absolute); None for PostgreSQL."""
        url = self.database_url.get_secret_value()
        return url.removeprefix(SQLITE_PREFIX) if url.startswith(SQLITE_PREFIX) else None

    @property
    def store_limits(self) -> StoreLimits:
        return StoreLimits(
            pool_size=self.database_pool_size,
            connect_timeout_seconds=self.database_connect_timeout_seconds,
            timeout_seconds=self.database_timeout_seconds,
        )
