"""Every setting of the app-frontend, read once from the environment at start."""

from typing import Literal

from pydantic import Field, HttpUrl
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    app_version: Literal["stable", "canary"] = Field(
        "stable", description="The experiment arm this process belongs to; labels every metric."
    )
    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a container).")
    port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    app_service_public_url: HttpUrl = Field(
        HttpUrl("http://app-service.k8s.local"), description="The app-service URL the browser calls."
    )
    show_confidence: bool = Field(False, description="Show the confidence next to the verdict (feature flag).")
    set_version_cookie: bool = Field(
        True,
        description="Set the app-version cookie for a visitor without a valid one: true with no mesh in front, "
        "false behind Istio, whose VirtualService sets it.",
    )

    @property
    def api_url(self) -> str:
        return str(self.app_service_public_url).rstrip("/")

    @property
    def api_origin(self) -> str:
        url = self.app_service_public_url
        default_port = {"http": 80, "https": 443}[url.scheme]
        port = "" if url.port in (None, default_port) else f":{url.port}"
        return f"{url.scheme}://{url.host}{port}"
