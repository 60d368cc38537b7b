"""The app factory: the settings and metrics, the lifespan that loads the template and the static files."""

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from service_kit.app import service_app

from app_frontend import RELEASE, SERVICE
from app_frontend.deps import State
from app_frontend.metrics import Metrics
from app_frontend.routes import readiness, router
from app_frontend.settings import Settings
from app_frontend.static_assets import STATIC_DIR, StaticAssets

TEMPLATES_DIR = Path(__file__).parent / "templates"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics(settings.app_version, RELEASE)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        if settings.fault_drop_first_visits_share:
            log.warning(
                "FAULT_DROP_FIRST_VISITS_SHARE=%g: a fault for tests is on, %g of first visits get a 503",
                settings.fault_drop_first_visits_share, settings.fault_drop_first_visits_share,
            )  # fmt: skip
        assets = StaticAssets(STATIC_DIR)
        templates = Jinja2Templates(directory=TEMPLATES_DIR)
        templates.env.globals["static_url"] = assets.url
        yield State(settings, metrics, templates, assets)

    return service_app(SERVICE, settings, metrics, lifespan, routers=[router], readiness=readiness)
