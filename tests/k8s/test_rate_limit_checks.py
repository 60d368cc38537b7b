"""The rate-limit checks, each broken on purpose: a rendered deployment that lets one client take a host from
everyone, or that cannot tell clients apart, makes the check report it in words that say what is wrong."""

import pytest
from sentiment_devtools.checks import rate_limits
from sentiment_devtools.manifests.model import Manifests

API_HOST, PAGE_HOST = "app-service.k8s.local", "app-frontend.k8s.local"


def find(documents: list[dict], kind: str, name: str) -> dict:
    return next(d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name)


def limit_of(documents: list[dict], host: str) -> dict:
    """The local rate limit the rate-limit EnvoyFilter gives `host`."""
    for patch in find(documents, "EnvoyFilter", "rate-limits")["spec"]["configPatches"]:
        if patch["match"].get("routeConfiguration", {}).get("vhost", {}).get("domainName") == host:
            return patch["patch"]["value"]["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
    raise AssertionError(f"no rate limit on {host}")


def gateway_pod_annotations(documents: list[dict]) -> dict:
    return find(documents, "Deployment", "sentiment-ingressgateway")["spec"]["template"]["metadata"]["annotations"]


def drop_the_page_limit(documents):
    patches = find(documents, "EnvoyFilter", "rate-limits")["spec"]["configPatches"]
    patches[:] = [
        p for p in patches if p["match"].get("routeConfiguration", {}).get("vhost", {}).get("domainName") != PAGE_HOST
    ]


def one_bucket_for_everyone(documents):
    limit = limit_of(documents, API_HOST)
    del limit["descriptors"], limit["rate_limits"]


def per_client_descriptor_never_matches(documents):
    limit_of(documents, API_HOST)["rate_limits"] = [{"actions": [{"generic_key": {"descriptor_value": "api"}}]}]


def unbounded_client_buckets(documents):
    del limit_of(documents, PAGE_HOST)["max_dynamic_descriptors"]


def forget_the_trusted_proxies(documents):
    del gateway_pod_annotations(documents)["proxy.istio.io/config"]


def load_balancer_re_sources_connections(documents):
    del find(documents, "Service", "sentiment-ingressgateway")["spec"]["externalTrafficPolicy"]


MUTATIONS = [
    (
        drop_the_page_limit,
        rate_limits.every_public_host_limits_each_client,
        "Gateway/sentiment-gateway: host app-frontend.k8s.local has no per-client rate limit",
    ),
    (
        one_bucket_for_everyone,
        rate_limits.every_public_host_limits_each_client,
        "EnvoyFilter/rate-limits: host app-service.k8s.local: no descriptor remote_address without a value",
    ),
    (
        per_client_descriptor_never_matches,
        rate_limits.every_public_host_limits_each_client,
        "no rate_limits action remote_address: the per-client descriptor never matches a request",
    ),
    (
        unbounded_client_buckets,
        rate_limits.every_public_host_limits_each_client,
        "host app-frontend.k8s.local: max_dynamic_descriptors is not set: Envoy keeps 20 client buckets",
    ),
    (
        forget_the_trusted_proxies,
        rate_limits.the_gateway_sees_the_client,
        "Deployment/sentiment-ingressgateway: the pods of Gateway/sentiment-gateway do not set "
        "gatewayTopology.numTrustedProxies",
    ),
    (
        load_balancer_re_sources_connections,
        rate_limits.the_gateway_sees_the_client,
        "Service/sentiment-ingressgateway: a LoadBalancer in front of Gateway/sentiment-gateway's pods, which trust "
        "no proxy (numTrustedProxies 0), without externalTrafficPolicy: Local",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "check", "expected"), MUTATIONS, ids=[mutate.__name__ for mutate, _, _ in MUTATIONS]
)
def test_the_check_reports_the_broken_rate_limit(documents, mutate, check, expected):
    assert check(Manifests(documents)) == [], "the unbroken deployment already fails this check"
    mutate(documents)
    problems = check(Manifests(documents))
    assert any(expected in problem for problem in problems), problems


def test_behind_an_http_load_balancer_the_trusted_hop_needs_no_local_traffic_policy(documents):
    # Given a gateway behind one L7 load balancer, which names the client in X-Forwarded-For
    gateway_pod_annotations(documents)["proxy.istio.io/config"] = "gatewayTopology:\n  numTrustedProxies: 1\n"
    load_balancer_re_sources_connections(documents)

    # Then the client is known whatever the nodes do with the connection
    assert rate_limits.the_gateway_sees_the_client(Manifests(documents)) == []
