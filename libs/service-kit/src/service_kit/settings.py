"""The settings every service has, and the one line a wrong one stops the service with."""

import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

Arm = Literal["stable", "canary"]
ARMS: tuple[Arm, ...] = ("stable", "canary")
LogLevel = Literal["debug", "info", "warning", "error"]


class ServiceSettings(BaseSettings):
    """Read once from the environment at start; each service adds its own fields."""

    model_config = SettingsConfigDict(frozen=True)

    app_version: Arm = Field("stable", description="The experiment arm this process belongs to; labels every metric.")
    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a container).")
    port: int = Field(8000, ge=1, le=65535)
    log_level: LogLevel = "info"


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def settings_or_exit(settings_class: type[SettingsT], service: str) -> SettingsT:
    """The settings from the environment; a wrong one exits 2 with `<service>: invalid setting <VARIABLE>: <why>`."""
    try:
        return settings_class()
    except ValidationError as error:
        problem = error.errors()[0]
        where = "_".join(str(part) for part in problem["loc"]).upper() or "settings"
        print(f"{service}: invalid setting {where}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
