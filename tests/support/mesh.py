"""Talking to the local mesh the way a browser does: by the public `*.localhost` names, through Envoy.

The operating system here does not resolve `*.localhost` (browsers do it
themselves), so requests go to 127.0.0.1 on Envoy's ingress port with the
public name in the Host header. Each request is sent on its own, with no
cookie jar: a test decides exactly which cookie a "visitor" holds.

Who sends it matters too: the gateway's rate limits count per client address.
The whole of 127.0.0.0/8 is this machine, so each client binds its socket to
an address of its own. A `Mesh` is one client (`sources=("127.0.0.2",)`) or,
by default, a crowd: each request from the next of 254 addresses, as the many
visitors a load test stands for would send them.
"""

import asyncio
import itertools
import shutil
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sentiment_devtools.checks.contract import VERSION_COOKIE, VISITOR_COOKIE
from sentiment_devtools.manifests.model import Manifests
from sentiment_devtools.manifests.render import render
from sentiment_devtools.stack.instances import Ports
from sentiment_devtools.stack.stack import LocalStack
from sentiment_devtools.system import API_HOST, ARMS, FRONTEND_HOST, PUBLIC_HOSTS

from support.services import Release
from support.waiting import DEADLINE_SECONDS, STARTUP_SECONDS

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


# The crowd a load test stands for: 254 visitors, each on an address of its own (127.0.1.1 to 127.0.1.254).
CROWD = tuple(f"127.0.1.{host}" for host in range(1, 255))


class Mesh:
    def __init__(self, stack: LocalStack, sources: Sequence[str] = CROWD) -> None:
        self.stack = stack
        port = stack.ports.ingress
        self.frontend_origin = f"http://{FRONTEND_HOST}:{port}"
        self._frontend_host = f"{FRONTEND_HOST}:{port}"
        self._api_host = f"{API_HOST}:{port}"
        # Each request takes the next source; a source's connection pool is made at its first request.
        self._next_source = itertools.cycle(sources)
        self._transports: dict[str, httpx.AsyncHTTPTransport] = {}
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

    async def get(self, host: str, path: str, headers: dict | None = None) -> Visit:
        """A GET to a public host (`FRONTEND_HOST` or `API_HOST`) by any path: a static file, say."""
        return await self._send("GET", path, f"{host}:{self.stack.ports.ingress}", headers or {})

    async def _send(self, method: str, path: str, host: str, headers: dict, json: object = None) -> Visit:
        request = httpx.Request(
            method,
            self._base + path,
            headers={"host": host, **headers},
            json=json,
            extensions={"timeout": httpx.Timeout(DEADLINE_SECONDS).as_dict()},
        )
        response = await self._transport(next(self._next_source)).handle_async_request(request)
        body = await response.aread()
        return Visit(
            status=response.status_code,
            served_by=response.headers.get("x-served-by"),
            set_cookies=_set_cookies(response.headers, VERSION_COOKIE),
            visitor_cookies=_set_cookies(response.headers, VISITOR_COOKIE),
            headers=response.headers,
            body=body,
        )

    def _transport(self, source: str) -> httpx.AsyncHTTPTransport:
        if source not in self._transports:
            self._transports[source] = httpx.AsyncHTTPTransport(
                local_address=source, limits=httpx.Limits(max_connections=32), verify=_plain_http_tls()
            )
        return self._transports[source]

    async def close(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()


@cache
def _plain_http_tls() -> ssl.SSLContext:
    """The one TLS context every pool shares: the mesh speaks plain HTTP, and each pool would load its own (60 ms)."""
    return ssl.create_default_context()


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


RATE_LIMITS = "components/istio/envoy-filter-rate-limits.yaml"
LOCAL_RATE_LIMIT = "envoy.filters.http.local_ratelimit"


def rate_limit_of(envoy_filter: dict, host: str) -> dict:
    """The local rate limit an EnvoyFilter gives the virtual host of `host` (a public host of the cluster)."""
    for patch in envoy_filter["spec"]["configPatches"]:
        if patch["applyTo"] == "VIRTUAL_HOST" and patch["match"]["routeConfiguration"]["vhost"]["domainName"] == host:
            return patch["patch"]["value"]["typed_per_filter_config"][LOCAL_RATE_LIMIT]
    raise AssertionError(f"{RATE_LIMITS} sets no rate limit on {host}")


def client_bucket(limit: dict) -> dict:
    """The token bucket of each client address: the descriptor `remote_address` with no value."""
    (descriptor,) = [d for d in limit.get("descriptors", []) if d["entries"] == [{"key": "remote_address"}]]
    return descriptor["token_bucket"]


@cache
def shipped_rate_limits() -> dict:
    """The rate-limit EnvoyFilter of k8s/, as committed."""
    return yaml.safe_load((REPO / "k8s" / RATE_LIMITS).read_text())


@contextmanager
def tight_rate_limits(
    stack: LocalStack,
    work_dir: Path,
    *,
    api_client: int | None = None,
    api_global: int | None = None,
    page_client: int | None = None,
    trusted_proxies: int | None = None,
) -> Iterator[None]:
    """Envoy rebuilt from a copy of k8s/ whose named buckets let that many requests through, then none for an hour.

    The limits of k8s/ refill every second: a token comes back every 10 ms to the API's global bucket, every
    500 ms to a client's, so how many requests pass depends on how fast the machine sends them. The same
    filter with small buckets that do not refill during the test makes every count certain. Rebuilding
    restarts Envoy, so every bucket starts full. `trusted_proxies` sets the gateway's numTrustedProxies.
    """
    k8s = work_dir / "k8s"
    shutil.copytree(REPO / "k8s", k8s)
    path = k8s / RATE_LIMITS
    envoy_filter = yaml.safe_load(path.read_text())
    api, page = (rate_limit_of(envoy_filter, PUBLIC_HOSTS[app]) for app in ("app-service", "app-frontend"))
    for bucket, tokens in ((client_bucket(api), api_client), (api["token_bucket"], api_global),
                           (client_bucket(page), page_client)):  # fmt: skip
        if tokens is not None:
            bucket.update(max_tokens=tokens, tokens_per_fill=1, fill_interval="3600s")
    path.write_text(yaml.safe_dump(envoy_filter, sort_keys=False))
    if trusted_proxies is not None:
        gateway = k8s / "components/istio/ingress-gateway.yaml"
        text = gateway.read_text()
        assert "numTrustedProxies: 0" in text, f"{gateway} no longer says numTrustedProxies: 0"
        gateway.write_text(text.replace("numTrustedProxies: 0", f"numTrustedProxies: {trusted_proxies}"))
    stack.rebuild_mesh(k8s)
    try:
        yield
    finally:
        stack.rebuild_mesh(REPO / "k8s")


def app_service_requests(stack: LocalStack, route: str, method: str = "GET") -> int:
    """How many requests to `route` both app-services have answered, by their own count (`http_requests_total`)."""
    total = 0
    for arm in ARMS:
        text = httpx.get(f"{stack.instance('app-service', arm).url}/metrics", timeout=DEADLINE_SECONDS).text
        for family in text_string_to_metric_families(text):
            if family.name == "http_requests":
                total += sum(
                    int(sample.value)
                    for sample in family.samples
                    if sample.name == "http_requests_total"
                    and sample.labels["route"] == route
                    and sample.labels["method"] == method
                )
    return total


def _set_cookies(headers: httpx.Headers, name: str) -> list[str]:
    return [cookie for cookie in headers.get_list("set-cookie") if cookie.startswith(f"{name}=")]
