"""HTTP routes of the app-frontend: the page and the operations endpoints."""

from importlib.metadata import version as package_version
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app_frontend.metrics import Metrics
from app_frontend.settings import Settings
from app_frontend.static_assets import StaticAssets
from app_frontend.version_cookie import set_version_cookie, valid_cookie_version

router = APIRouter()
RELEASE = package_version("app-frontend")


class Status(BaseModel):
    status: str


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


async def get_assets(request: Request) -> StaticAssets:
    return request.app.state.assets


@router.get("/", response_class=HTMLResponse, tags=["page"])
async def review_page(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    metrics: Annotated[Metrics, Depends(get_metrics)],
    templates: Annotated[Jinja2Templates, Depends(get_templates)],
) -> Response:
    """The review page. Its script calls the app-service with X-App-Version set to the visitor's arm:
    the cookie's when it names one, else this process's own."""
    cookie_version = valid_cookie_version(request.cookies)
    context = {
        "api_url": settings.api_url,
        "page_version": cookie_version or settings.app_version,
        "show_confidence": settings.show_confidence,
        "release": RELEASE,
    }
    response = templates.TemplateResponse(request, "index.html", context, headers=_page_headers(settings))
    if cookie_version is None and settings.set_version_cookie:
        set_version_cookie(response, settings.app_version)
    metrics.page_views.inc()
    return response


def _page_headers(settings: Settings) -> dict[str, str]:
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src {settings.api_origin}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",  # the page depends on the visitor's cookie
        "Vary": "Cookie",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


@router.get("/static/{name}", response_class=FileResponse, tags=["page"])
async def static_file(name: str, request: Request, assets: Annotated[StaticAssets, Depends(get_assets)]) -> Response:
    """The page's CSS, JS and icon. A URL with the file's current hash may be cached for good."""
    path = assets.find(name)
    if path is None:
        raise HTTPException(404, detail="no such file")
    current = assets.is_current(name, request.query_params.get("v"))
    cache = "public, max-age=31536000, immutable" if current else "public, max-age=300"
    return FileResponse(path, media_type=assets.media_type(path), headers={"Cache-Control": cache})


@router.get("/healthz", response_model=Status, tags=["operations"])
async def healthz() -> Status:
    """Alive: the process answers."""
    return Status(status="ok")


@router.get("/readyz", response_model=Status, tags=["operations"])
async def readyz() -> Status:
    """Ready as soon as it answers: the page needs nothing but its own files, loaded at start."""
    return Status(status="ready")


@router.get("/metrics", tags=["operations"])
async def metrics_endpoint(metrics: Annotated[Metrics, Depends(get_metrics)]) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
