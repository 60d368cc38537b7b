"""The `visitor-id` cookie: the random id that makes a visitor the experiment's unit.

A cookie of its own, never the `app-version` cookie, whose value the routing
matches exactly. The frontend sets it wherever it runs (the mesh sets only the
arm's cookie): when a request has none, or one that is not an id, with the arm
cookie's lifetime, so that both are set on a first visit and expire together.
HttpOnly: the page's script never reads it; the page carries the id
(PageData.visitor_id) for the script to send as X-Visitor-Id.
"""

from collections.abc import Mapping

from service_kit.visitor_id import is_visitor_id
from starlette.responses import Response

from app_frontend.version_cookie import MAX_AGE_SECONDS

COOKIE_NAME = "visitor-id"


def valid_visitor_id(cookies: Mapping[str, str]) -> str | None:
    """The visitor's id, or None when the cookie is absent or holds anything but an id."""
    value = cookies.get(COOKIE_NAME)
    return value if is_visitor_id(value) else None


def set_visitor_cookie(response: Response, visitor_id: str) -> None:
    response.set_cookie(COOKIE_NAME, visitor_id, max_age=MAX_AGE_SECONDS, path="/", samesite="lax", httponly=True)
