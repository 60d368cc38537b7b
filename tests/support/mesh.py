"""Talking to the local mesh the way a browser does: by the public `*.localhost` names, through Envoy.

The operating system here does not resolve `*.localhost` (browsers do it
themselves), so requests go to 127.0.0.1 on Envoy's ingress port with the
public name in the Host header. Each request is sent on its own, with no
cookie jar: a test decides exactly which cookie a "visitor" holds.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from localstack.stack import LocalStack
from localstack.topology import API_HOST, FRONTEND_HOST, Ports

from support.services import Release

REPO = Path(__file__).resolve().parents[2]

VERSION_COOKIE = "app-version"


@dataclass(frozen=True)
class Visit:
    """One answer of the mesh, reduced to what the routing tests look at."""

    status: int
    served_by: str | None
    set_cookies: list[str]
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
            set_cookies=response.headers.get_list("set-cookie"),
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
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
