"""Every setting of the app-frontend, read once from the environment at start."""

from pydantic import Field, HttpUrl
from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    app_service_public_url: HttpUrl = Field(
        HttpUrl("http://app-service.k8s.local"), description="The app-service URL the browser calls."
    )
    show_confidence: bool = Field(False, description="Show the confidence next to the verdict (feature flag).")
    set_version_cookie: bool = Field(
        True,
        description="Set the app-version cookie for a visitor without a valid one: true with no mesh in front, "
        "false behind Istio, whose VirtualService sets it.",
    )
    fault_drop_first_visits_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="A FAULT FOR TESTS, never set in a deployment: answer this share of first visits (no valid "
        "app-version cookie) with a 503 and count none of them (faults.py).",
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
