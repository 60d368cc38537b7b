"""What a request of the app-frontend needs: one state object, made by the lifespan, as one typed dependency."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.templating import Jinja2Templates
from service_kit.app import service_state

from app_frontend.metrics import Metrics
from app_frontend.settings import Settings
from app_frontend.static_assets import StaticAssets


@dataclass(frozen=True)
class State:
    settings: Settings
    metrics: Metrics
    templates: Jinja2Templates
    assets: StaticAssets


StateDep = Annotated[State, Depends(service_state)]
