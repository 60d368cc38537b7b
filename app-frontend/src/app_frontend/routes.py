"""HTTP routes of the app-frontend: the page, its static files, and its readiness."""

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from service_kit.schemas import Status
from service_kit.visitor_id import new_visitor_id

from app_frontend.deps import StateDep
from app_frontend.faults import drops_first_visit
from app_frontend.schemas import PageData
from app_frontend.settings import Settings
from app_frontend.version_cookie import set_version_cookie, valid_cookie_version
from app_frontend.visitor_cookie import set_visitor_cookie, valid_visitor_id

router = APIRouter()


@router.get(
    "/",
    response_class=HTMLResponse,
    tags=["page"],
    responses={503: {"description": "Only under the fault for tests FAULT_DROP_FIRST_VISITS_SHARE."}},
)
async def review_page(request: Request, state: StateDep) -> Response:
    """The review page. Its script calls the app-service with X-App-Version set to the visitor's arm
    (the cookie's when it names one, else this process's own) and X-Visitor-Id set to the visitor's id.
    A request with no valid app-version cookie is a new visitor assigned to this arm, and counted."""
    settings, metrics = state.settings, state.metrics
    cookie_version = valid_cookie_version(request.cookies)
    first_visit = cookie_version is None
    if first_visit and drops_first_visit(settings.fault_drop_first_visits_share):
        message = "first visit dropped by FAULT_DROP_FIRST_VISITS_SHARE"
        return PlainTextResponse(message, status_code=503, headers={"Cache-Control": "no-store"})
    visitor_id = valid_visitor_id(request.cookies)
    page = PageData(
        api_url=settings.api_url,
        page_version=cookie_version or settings.app_version,
        show_confidence=settings.show_confidence,
        visitor_id=visitor_id or new_visitor_id(),
    )
    response = state.templates.TemplateResponse(
        request, "index.html", page.model_dump(), headers=_page_headers(settings)
    )
    if first_visit and settings.set_version_cookie:
        set_version_cookie(response, settings.app_version)
    if visitor_id is None:
        set_visitor_cookie(response, page.visitor_id)
    if first_visit:
        metrics.assignments.inc()
    metrics.page_views.inc()
    return response


def _page_headers(settings: Settings) -> dict[str, str]:
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src {settings.api_origin}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",  # the page depends on the visitor's cookies, and carries their id
        "Vary": "Cookie",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


@router.get("/static/{name}", response_class=FileResponse, tags=["page"])
async def static_file(name: str, request: Request, state: StateDep) -> Response:
    """The page's CSS, JS and icon. A URL with the file's current hash may be cached for good."""
    assets = state.assets
    path = assets.find(name)
    if path is None:
        raise HTTPException(404, detail="no such file")
    current = assets.is_current(name, request.query_params.get("v"))
    cache = "public, max-age=31536000, immutable" if current else "public, max-age=300"
    return FileResponse(path, media_type=assets.media_type(path), headers={"Cache-Control": cache})


async def readiness() -> Status:
    """Ready as soon as it answers: the page needs nothing but its own files, loaded at start."""
    return Status(status="ready")
