"""Talking to the local mesh the way a browser does: by the public `*.localhost` names, through Envoy.

The operating system here does not resolve `*.localhost` (browsers do it
themselves), so requests go to 127.0.0.1 on Envoy's ingress port with the
public name in the Host header. Each request is sent on its own, with no
cookie jar: a test decides exactly which cookie a "visitor" holds.
"""

import asyncio
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
from sentiment_devtools.checks.contract import VERSION_COOKIE, VISITOR_COOKIE
from sentiment_devtools.manifests.model import Manifests
from sentiment_devtools.manifests.render import render
from sentiment_devtools.stack.instances import Ports
from sentiment_devtools.stack.stack import LocalStack
from sentiment_devtools.system import API_HOST, FRONTEND_HOST

from support.services import Release
from support.waiting import STARTUP_SECONDS

REPO = Path(__file__).resolve().parents[2]


@cache
def declared_canary_share() -> float:
    """The canary's share of new visitors, as the frontend VirtualService of k8s/ declares it (nothing else does)."""
    return Manifests(render(REPO / "k8s", example_secrets=True)).split("app-frontend")["canary"] / 100


@dataclass(frozen=True)
class Visit:
    """One answer of the mesh, reduced to what the routing tests look at."""

    status: int
    served_by: str | None
    set_cookies: list[str]  # of the app-version cookie, the routing's
    visitor_cookies: list[str]  # of the visitor-id cookie, which the frontend sets
    headers: httpx.Headers
    body: bytes

    @property
    def version(self) -> str | None:
        """The version of the service that answered, from its own X-Served-By header."""
        return self.served_by.split("/")[1] if self.served_by else None


class Mesh:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        port = stack.ports.ingress
        self.frontend_origin = f"http://{FRONTEND_HOST}:{port}"
        self._frontend_host = f"{FRONTEND_HOST}:{port}"
        self._api_host = f"{API_HOST}:{port}"
        self._transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=32))
        self._base = f"http://127.0.0.1:{port}"

    async def page(self, cookie: str | None = None) -> Visit:
        headers = {"cookie": cookie} if cookie is not None else {}
        return await self._send("GET", "/", self._frontend_host, headers)

    async def api(
        self, method: str, path: str, *, version: str | None = None, json: object = None, headers: dict | None = None
    ) -> Visit:
        all_headers = {"origin": self.frontend_origin, **(headers or {})}
        if version is not None:
            all_headers["x-app-version"] = version
        return await self._send(method, path, self._api_host, all_headers, json)

    async def _send(self, method: str, path: str, host: str, headers: dict, json: object = None) -> Visit:
        request = httpx.Request(method, self._base + path, headers={"host": host, **headers}, json=json)
        response = await self._transport.handle_async_request(request)
        body = await response.aread()
        return Visit(
            status=response.status_code,
            served_by=response.headers.get("x-served-by"),
            set_cookies=_set_cookies(response.headers, VERSION_COOKIE),
            visitor_cookies=_set_cookies(response.headers, VISITOR_COOKIE),
            headers=response.headers,
            body=body,
        )

    async def close(self) -> None:
        await self._transport.aclose()


async def gather_limited(coroutines: list, concurrency: int = 16) -> list:
    """Run coroutines with at most `concurrency` in flight, keeping their order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def limited(coroutine):
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(limited(c) for c in coroutines))


@contextmanager
def running_stack(release: Release, state_dir: Path, **options: object) -> Iterator[LocalStack]:
    """The whole local system on free ports, logs in <state_dir>/logs; stopped afterwards."""
    options = {"k8s_dir": REPO / "k8s", **options}
    stack = LocalStack(release, state_dir, ports=Ports.free(), log_dir=state_dir / "logs", **options)
    stack.start(STARTUP_SECONDS)
    try:
        yield stack
    finally:
        stack.stop()


RATE_LIMIT_FILTER = "components/istio/envoy-filter-rate-limit-api.yaml"


@contextmanager
def tight_rate_limit(stack: LocalStack, work_dir: Path, tokens: int) -> Iterator[None]:
    """Envoy rebuilt from a copy of k8s/ whose API rate limit lets `tokens` requests through, then none for an hour.

    The limit of k8s/ (bursts of 200, refilled at 100/s) cannot be held empty from outside at a
    given moment: a token comes back every 10 ms, and a slow machine may never send fast enough
    to empty it. The same filter with a small bucket makes a 429 certain; nothing else changes.
    """
    k8s = work_dir / "k8s"
    shutil.copytree(REPO / "k8s", k8s)
    limit = k8s / RATE_LIMIT_FILTER
    text = limit.read_text()
    for real, tight in [("max_tokens: 200", f"max_tokens: {tokens}"), ("tokens_per_fill: 100", "tokens_per_fill: 1"),
                        ("fill_interval: 1s", "fill_interval: 3600s")]:  # fmt: skip
        assert real in text, f"{RATE_LIMIT_FILTER} no longer says {real!r}"
        text = text.replace(real, tight)
    limit.write_text(text)
    stack.rebuild_mesh(k8s)
    try:
        yield
    finally:
        stack.rebuild_mesh(REPO / "k8s")


def _set_cookies(headers: httpx.Headers, name: str) -> list[str]:
    return [cookie for cookie in headers.get_list("set-cookie") if cookie.startswith(f"{name}=")]
