"""The `app-version` cookie that keeps a visitor on one experiment arm.

Who sets it depends on the deployment, so that a first-time visitor gets exactly
one Set-Cookie: behind Istio the frontend VirtualService adds it to the answer
of the arm it picked (SET_VERSION_COOKIE=false here); with no mesh in front
(make run, docker compose) this service sets it to its own arm.
"""

from collections.abc import Mapping

from starlette.responses import Response

COOKIE_NAME = "app-version"
ARMS = ("stable", "canary")
MAX_AGE_SECONDS = 30 * 24 * 3600


def valid_cookie_version(cookies: Mapping[str, str]) -> str | None:
    """The arm the cookie names, or None when it is absent or names no arm (`canaryX` is no arm)."""
    value = cookies.get(COOKIE_NAME)
    return value if value in ARMS else None


def set_version_cookie(response: Response, version: str) -> None:
    response.set_cookie(COOKIE_NAME, version, max_age=MAX_AGE_SECONDS, path="/", samesite="lax")
