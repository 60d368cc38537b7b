"""What a request of the app-service needs: one state object, opened by the lifespan, as one typed dependency."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from service_kit.app import service_state

from app_service.metrics import Metrics
from app_service.model_client import ModelClient
from app_service.settings import Settings
from app_service.store import ReviewStore


@dataclass(frozen=True)
class State:
    settings: Settings
    metrics: Metrics
    store: ReviewStore
    model: ModelClient


StateDep = Annotated[State, Depends(service_state)]
