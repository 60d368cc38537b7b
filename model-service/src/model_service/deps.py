"""What a request of the model-service needs: one state object, made by the lifespan, as one typed dependency."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from service_kit.app import service_state

from model_service.metrics import Metrics
from model_service.predictor import ModelState
from model_service.settings import Settings


@dataclass(frozen=True)
class State:
    settings: Settings
    metrics: Metrics
    model: ModelState  # loaded in the background by the lifespan; until then, why not


StateDep = Annotated[State, Depends(service_state)]
