"""The app factory: wires settings, metrics, the template, the static files and the routes."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from app_frontend.metrics import Metrics, RequestMetricsMiddleware
from app_frontend.routes import RELEASE, router
from app_frontend.served_by import ServedByMiddleware
from app_frontend.settings import Settings
from app_frontend.static_assets import STATIC_DIR, StaticAssets

TEMPLATES_DIR = Path(__file__).parent / "templates"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics(settings.app_version, RELEASE)
    assets = StaticAssets(STATIC_DIR)
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    templates.env.globals["static_url"] = assets.url

    app = FastAPI(
        title="app-frontend",
        version=RELEASE,
        summary="The page where users classify restaurant reviews and correct the verdicts.",
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.templates = templates
    app.state.assets = assets
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_middleware(ServedByMiddleware, service="app-frontend", app_version=settings.app_version)
    app.include_router(router)
    return app
