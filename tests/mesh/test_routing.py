"""The routing of k8s/, proven through a real Envoy compiled from it, in front of the real services.

Every version named here comes from the answering service itself (its
X-Served-By header, or the model-service's own app_version in the answer),
never from what the test asked for.
"""

import asyncio
import re
import shutil
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import binom
from sentiment_devtools.stack.envoy import envoy_process
from sentiment_devtools.stack.instances import Ports
from sentiment_devtools.stack.supervisor import Supervisor
from sentiment_devtools.system import ARMS, PUBLIC_HOSTS
from support.mesh import CROWD, REPO, Mesh, declared_canary_share, gather_limited
from support.waiting import DEADLINE_SECONDS

pytestmark = pytest.mark.slow

CONFIDENCE = 0.999
FRONTEND_ROUTES = "components/istio/virtual-service-app-frontend-by-cookie.yaml"


def run(coroutine_function):
    """Run an async check against a fresh Mesh client for the stack."""

    async def with_mesh(stack):
        mesh = Mesh(stack)
        try:
            return await coroutine_function(mesh)
        finally:
            await mesh.close()

    return with_mesh


def cookie_version(set_cookie: str) -> str:
    match = re.fullmatch(r"app-version=(stable|canary); Path=/; Max-Age=\d+; SameSite=Lax", set_cookie)
    assert match, set_cookie
    return match.group(1)


def assert_share(canary: int, total: int, share: float, confidence: float = CONFIDENCE) -> None:
    low, high = binom.interval(confidence, total, share)
    assert low <= canary <= high, f"{canary} of {total} on canary, expected {low:.0f}-{high:.0f} for {share:.0%}"


def test_new_visitors_are_split_as_declared_and_each_gets_one_cookie_naming_the_version_that_served_them(stack):
    # Given 2,000 visitors without a cookie
    async def visits(mesh):
        return await gather_limited([mesh.page() for _ in range(2000)])

    # When each loads the page
    answers = asyncio.run(run(visits)(stack))

    # Then the declared share sees the canary (binomial 99.9% interval: 156-244 of 2,000 for 10%)
    assert {a.status for a in answers} == {200}
    for answer in answers:
        assert len(answer.set_cookies) == 1, answer.set_cookies
        assert cookie_version(answer.set_cookies[0]) == answer.version
    assert_share(sum(a.version == "canary" for a in answers), len(answers), declared_canary_share())
    # And each got a visitor id of its own from the frontend, beside the mesh's cookie
    assert all(len(a.visitor_cookies) == 1 for a in answers)
    assert len({a.visitor_cookies[0].split(";")[0] for a in answers}) == len(answers)


def test_returning_visitors_keep_their_version_for_twenty_requests(stack):
    # Given 200 visitors, each with the cookie their first visit gave them
    async def visitor(mesh):
        first = await mesh.page()
        cookie = first.set_cookies[0].split(";")[0]
        return first.version, [(await mesh.page(cookie)) for _ in range(20)]

    async def visitors(mesh):
        return await gather_limited([visitor(mesh) for _ in range(200)])

    # When each comes back 20 times
    results = asyncio.run(run(visitors)(stack))

    # Then nobody ever changes version, and nobody gets another cookie
    for first_version, later in results:
        assert {visit.version for visit in later} == {first_version}
        assert all(visit.set_cookies == [] for visit in later)
    assert {first for first, _ in results} == set(ARMS)


@pytest.mark.parametrize("cookie", ["app-version=canary", "a=1; app-version=canary; b=2", "app-version=canary;x=y"])
def test_a_canary_cookie_always_lands_on_canary(stack, cookie):
    async def visits(mesh):
        return await gather_limited([mesh.page(cookie) for _ in range(50)])

    answers = asyncio.run(run(visits)(stack))

    assert {a.version for a in answers} == {"canary"}
    assert all(a.set_cookies == [] for a in answers)


@pytest.mark.parametrize(
    "cookie", ["app-version=canaryX", "xapp-version=canary", "app-version=", "app-version=Canary", "%%;;=garbage="]
)
def test_cookies_that_only_look_like_ours_count_as_no_cookie(stack, cookie):
    # When a visitor with a look-alike cookie loads the page 60 times
    async def visits(mesh):
        return await gather_limited([mesh.page(cookie) for _ in range(60)])

    answers = asyncio.run(run(visits)(stack))

    # Then each is treated as new: a fresh cookie naming the version that served, split as new visitors are
    # (binomial, 1 - 1e-6: 0-20 of 60 on the canary for 10%; a 60/40 split, 24, fails)
    for answer in answers:
        assert len(answer.set_cookies) == 1
        assert cookie_version(answer.set_cookies[0]) == answer.version
    assert_share(sum(a.version == "canary" for a in answers), len(answers), declared_canary_share(), 1 - 1e-6)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("canary", "canary"), ("stable", "stable"), (None, "stable"), ("Canary", "stable"),
     ("beta", "stable"), ("canary,stable", "stable"), ("canaryX", "stable")],
)  # fmt: skip
def test_the_api_follows_the_x_app_version_header_exactly(stack, header, expected):
    async def calls(mesh):
        return await gather_limited([mesh.api("GET", "/api/v1/version", version=header) for _ in range(10)])

    answers = asyncio.run(run(calls)(stack))

    assert {(a.status, a.version) for a in answers} == {(200, expected)}


@pytest.mark.parametrize("version", ARMS)
def test_a_review_stays_on_one_version_from_the_api_to_the_model(stack, version):
    # When a page of one version sends reviews with its X-App-Version
    async def reviews(mesh):
        return await gather_limited(
            [mesh.api("POST", "/api/v1/sentiment", version=version, json={"review": "Lovely soup."}) for _ in range(20)]
        )

    answers = asyncio.run(run(reviews)(stack))

    # Then the app-service and the model-service of that version answer, by their own account
    for answer in answers:
        assert answer.status == 200, answer.body
        body = httpx.Response(200, content=answer.body).json()
        assert answer.version == version
        assert body["versions"]["app_service"] == version
        assert body["versions"]["model_service"] == version
    model_service = stack.instance("model-service", version)
    metrics = httpx.get(f"{model_service.url}/metrics").text
    served = sum(
        float(value)
        for value in re.findall(rf'^model_predictions_total{{.*version="{version}".*}} (\S+)$', metrics, re.M)
    )
    assert served >= 20


def test_a_cors_preflight_from_the_frontend_is_answered_at_the_gateway_and_a_foreign_origin_is_not(stack):
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-app-version",
    }

    async def preflights(mesh):
        ours = await mesh.api("OPTIONS", "/api/v1/sentiment", headers=preflight)
        foreign = await mesh.api(
            "OPTIONS", "/api/v1/sentiment", headers={**preflight, "origin": "https://evil.example"}
        )
        return mesh, ours, foreign

    mesh, ours, foreign = asyncio.run(run(preflights)(stack))

    assert ours.status == 200
    assert ours.headers["access-control-allow-origin"] == mesh.frontend_origin
    assert "x-app-version" in ours.headers["access-control-allow-headers"]
    assert "access-control-allow-origin" not in foreign.headers


def test_the_gateway_refuses_an_oversized_body_before_it_reaches_a_pod(stack):
    # When a client posts a 1 MB review
    async def oversized(mesh):
        return mesh, await mesh.api("POST", "/api/v1/sentiment", version="canary", json={"review": "x" * 1_000_000})

    mesh, answer = asyncio.run(run(oversized)(stack))

    # Then Envoy answers 413 itself (no service answered), readable by the page
    assert answer.status == 413
    assert answer.served_by is None
    assert answer.headers["access-control-allow-origin"] == mesh.frontend_origin


def test_the_gateway_refuses_a_120_kb_header_before_it_reaches_a_pod(stack):
    # When a client sends an X-App-Version header of 120 kB (the services' HTTP parser has no header limit)
    async def oversized_header(mesh):
        return await mesh.api("GET", "/api/v1/version", headers={"x-app-version": "canary" * 20_000})

    answer = asyncio.run(run(oversized_header)(stack))

    # Then Envoy refuses it with 431 (its default limit, 60 KiB of headers), and no service answered
    assert answer.status == 431
    assert answer.served_by is None


def test_changing_the_weight_in_the_manifest_changes_the_split(stack, tmp_path):
    # Given a copy of k8s/ whose frontend VirtualService sends half of new visitors to the canary
    k8s = tmp_path / "k8s"
    shutil.copytree(REPO / "k8s", k8s)
    route = k8s / FRONTEND_ROUTES
    virtual_service = yaml.safe_load(route.read_text())
    for destination in virtual_service["spec"]["http"][-1]["route"]:
        destination["weight"] = 50
    route.write_text(yaml.safe_dump(virtual_service))

    # When the mesh is rebuilt from it
    stack.rebuild_mesh(k8s)
    try:

        async def visits(mesh):
            return await gather_limited([mesh.page() for _ in range(600)])

        answers = asyncio.run(run(visits)(stack))
    finally:
        stack.rebuild_mesh(REPO / "k8s")

    # Then the observed split follows (binomial 99.9% interval around 50%)
    assert_share(sum(a.version == "canary" for a in answers), len(answers), 0.5)


@contextmanager
def tls_gateway(stack, tmp_path) -> Iterator[Ports]:
    """A second Envoy compiled for the same services with a self-signed certificate; its ports."""
    free = Ports.free()
    # Its own listeners, the inbound ones too, in front of the same processes
    inbound = dict(zip(stack.ports.inbound, free.inbound.values(), strict=True))
    ports = replace(free, services=stack.ports.services, sidecars=stack.ports.sidecars, inbound=inbound)
    envoy = envoy_process(REPO / "k8s", stack.instances, ports, tmp_path, tls=True)
    envoy.name = "envoy-tls"
    supervisor = Supervisor(tmp_path / "logs")
    supervisor.start(envoy)
    try:
        supervisor.wait_ready()
        yield ports
    finally:
        supervisor.stop_all()


def gateway_certificate(tmp_path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=tmp_path / "envoy" / "tls" / "gateway.crt")


def test_with_a_certificate_the_gateway_serves_https_and_plain_http_requires_tls_as_istiod_makes_it(stack, tmp_path):
    # Given a second Envoy compiled for the same services with a self-signed certificate
    with tls_gateway(stack, tmp_path) as ports:
        # When a browser asks over HTTP, by the cluster's host and by the local twin with its port, then over HTTPS
        plain = httpx.get(
            f"http://127.0.0.1:{ports.ingress}/reviews?page=2", headers={"Host": PUBLIC_HOSTS["app-frontend"]}
        )
        twin = httpx.get(
            f"http://127.0.0.1:{ports.ingress}/", headers={"Host": f"app-frontend.localhost:{ports.ingress}"}
        )
        secure = httpx.get(
            f"https://127.0.0.1:{ports.ingress_tls}/",
            headers={"Host": f"app-frontend.localhost:{ports.ingress_tls}"},
            verify=gateway_certificate(tmp_path),
        )

    # Then HTTP answers istiod's redirect (require_tls): https on the same Host and path, no service asked
    assert plain.status_code == 301
    assert plain.headers["location"] == f"https://{PUBLIC_HOSTS['app-frontend']}/reviews?page=2"
    assert "x-served-by" not in plain.headers
    # (a port in the Host is kept, as Envoy's require_tls keeps it: locally, the HTTPS port is opened directly)
    assert (twin.status_code, twin.headers["location"]) == (301, f"https://app-frontend.localhost:{ports.ingress}/")
    # And HTTPS serves the page with its version cookie
    assert secure.status_code == 200
    assert secure.headers["x-served-by"].startswith("app-frontend/")
    assert any(cookie.startswith("app-version=") for cookie in secure.headers.get_list("set-cookie"))


async def over_http2(ports: Ports, tmp_path, cookie_crumbs: list[str], count: int) -> list[httpx.Response]:
    """`count` page loads over HTTP/2, each sending its cookies as separate `cookie` fields, as HTTP/2 clients do.

    Each load comes from a visitor of its own (an address of the crowd), as the gateway limits each client."""
    headers = [("host", f"app-frontend.localhost:{ports.ingress_tls}"), *(("cookie", crumb) for crumb in cookie_crumbs)]
    context = gateway_certificate(tmp_path)
    clients = [
        httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(http2=True, verify=context, local_address=source),
            timeout=DEADLINE_SECONDS,
        )
        for source in CROWD[:count]
    ]
    try:
        url = f"https://127.0.0.1:{ports.ingress_tls}/"
        return await gather_limited([client.get(url, headers=headers) for client in clients])
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.parametrize(
    ("crumbs", "expected"),
    [
        (["a=1", "app-version=canary", "b=2"], "canary"),
        (["app-version=canary"], "canary"),
        (["app-version=stable", "a=1"], "stable"),
    ],
)
def test_over_http2_a_cookie_split_into_several_cookie_headers_still_routes_by_the_anchored_regex(
    stack, tmp_path, crumbs, expected
):
    # Given the gateway over TLS, which offers h2 in ALPN as istiod's does
    with tls_gateway(stack, tmp_path) as ports:
        # When a visitor's HTTP/2 client sends its cookies as separate `cookie` header fields
        answers = asyncio.run(over_http2(ports, tmp_path, crumbs, 30))

    # Then the connection is HTTP/2, and Envoy routes as on the joined header: the visitor's version, no new cookie
    assert {a.http_version for a in answers} == {"HTTP/2"}
    assert {(a.status_code, a.headers["x-served-by"].split("/")[1]) for a in answers} == {(200, expected)}
    assert all(
        not a.headers.get_list("set-cookie")
        or not any(c.startswith("app-version=") for c in a.headers.get_list("set-cookie"))
        for a in answers
    )


def test_over_http2_split_look_alike_cookies_count_as_no_cookie(stack, tmp_path):
    # When 60 visitors' HTTP/2 clients send only look-alikes of the version cookie, each as a field of its own
    with tls_gateway(stack, tmp_path) as ports:
        answers = asyncio.run(over_http2(ports, tmp_path, ["xapp-version=canary", "app-version=canaryX"], 60))

    # Then each is a new visitor: a fresh cookie naming the version that served, split as declared (1 - 1e-6)
    for answer in answers:
        (cookie,) = [c for c in answer.headers.get_list("set-cookie") if c.startswith("app-version=")]
        assert cookie_version(cookie) == answer.headers["x-served-by"].split("/")[1]
    canary = sum(a.headers["x-served-by"].endswith("/canary") for a in answers)
    assert_share(canary, len(answers), declared_canary_share(), 1 - 1e-6)


def test_the_gateways_statistics_carry_istios_tag_names_and_each_clusters_full_istiod_name(stack):
    # Given a review answered by the stable app-service through the gateway
    async def review(mesh):
        return await mesh.api("POST", "/api/v1/sentiment", version="stable", json={"review": "Fine bread."})

    assert asyncio.run(run(review)(stack)).status == 200

    # When Prometheus would scrape the gateway's statistics
    text = httpx.get(f"{stack.admin_url}/stats/prometheus", timeout=DEADLINE_SECONDS).text

    # Then the cluster's answers are counted under istiod's cluster name, whole, with their code, in the tags
    # Istio's proxy names (cluster_name, response_code), and none under Envoy's default names
    samples = [
        (family.name, sample.labels)
        for family in text_string_to_metric_families(text)
        if family.name.startswith("envoy_cluster_upstream_rq")
        for sample in family.samples
    ]
    answered = {
        (labels.get("cluster_name"), labels.get("response_code"))
        for name, labels in samples
        if name == "envoy_cluster_upstream_rq"
    }
    assert ("outbound|80|stable|app-service.sentiment.svc.cluster.local", "200") in answered, sorted(answered)
    app_service = {name for name, labels in samples if "|app-service." in labels.get("cluster_name", "")}
    assert app_service >= {"envoy_cluster_upstream_rq", "envoy_cluster_upstream_rq_completed"}, sorted(app_service)
    envoys_names = [labels for _, labels in samples if {"envoy_cluster_name", "envoy_response_code"} & labels.keys()]
    assert envoys_names == []
    assert not [line for line in text.splitlines() if "svc_cluster_local" in line]


def proxy_stats_inclusions() -> list[str]:
    """The regexes the gateway's pods ask Istio's proxy to keep their statistics by (`proxyStatsMatcher`)."""
    documents = yaml.safe_load_all((REPO / "k8s/components/istio/ingress-gateway.yaml").read_text())
    (deployment,) = [d for d in documents if d and d["kind"] == "Deployment"]
    config = yaml.safe_load(deployment["spec"]["template"]["metadata"]["annotations"]["proxy.istio.io/config"])
    return config["proxyStatsMatcher"]["inclusionRegexps"]


def test_the_gateway_pods_stats_matcher_keeps_every_statistic_the_slo_rules_read(stack):
    # Given a review answered by the stable app-service through the gateway
    async def review(mesh):
        return await mesh.api("POST", "/api/v1/sentiment", version="stable", json={"review": "Crisp fries."})

    assert asyncio.run(run(review)(stack)).status == 200

    # When the gateway's statistics the rules read are listed by their Envoy names, as istiod names them
    stats = httpx.get(f"{stack.admin_url}/stats?format=json", timeout=DEADLINE_SECONDS).json()["stats"]
    names = [stat["name"] for stat in stats if "name" in stat]
    read = {
        "answers per app-service arm": [
            n
            for n in names
            if re.fullmatch(r"cluster\.outbound\|80\|[^|]+\|app-service\..+\.upstream_rq_(\d{3}|completed)", n)
        ],
        "413s of the size limit": [
            n for n in names if re.fullmatch(r"http\.outbound_0\.0\.0\.0_\d+\.downstream_rq_too_large", n)
        ],
        "429s of the rate limits": [n for n in names if n.endswith(".http_local_rate_limit.rate_limited")],
    }

    # Then each kind is there, and Istio's proxy would keep every one (Envoy's stats matcher: a full match)
    assert all(read.values()), read
    inclusions = proxy_stats_inclusions()
    dropped = [n for found in read.values() for n in found if not any(re.fullmatch(r, n) for r in inclusions)]
    assert dropped == [], f"{dropped} match none of {inclusions}"
