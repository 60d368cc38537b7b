"""One client cannot take a public host from everyone: each host the Gateway serves limits every client by its
address, with a bounded number of buckets, and the gateway sees who the client is."""

from collections.abc import Iterator, Mapping

import yaml

from sentiment_devtools.manifests.model import Manifests, Workload, labels_match, namespace, ref

LOCAL_RATE_LIMIT = "envoy.filters.http.local_ratelimit"
PROXY_CONFIG = "proxy.istio.io/config"
# A descriptor entry with this key and no value: one bucket per client address.
PER_CLIENT_ENTRIES = [{"key": "remote_address"}]


def every_public_host_limits_each_client(m: Manifests) -> list[str]:
    """Each Gateway host has a local rate limit with a bucket per client address, bounded in number."""
    problems = []
    for gateway in m.of_kind("Gateway"):
        limits = dict(_virtual_host_limits(m, gateway))
        for host in sorted({host for server in gateway["spec"]["servers"] for host in server["hosts"]}):
            if host not in limits:
                problems.append(
                    f"{ref(gateway)}: host {host} has no per-client rate limit (a local_ratelimit with a descriptor "
                    "remote_address and no value), so one client can take it from everyone"
                )
                continue
            envoy_filter, limit = limits[host]
            problems += [f"{ref(envoy_filter)}: host {host}: {problem}" for problem in _per_client_problems(limit)]
    return problems


def _per_client_problems(limit: Mapping) -> list[str]:
    descriptors = [d for d in limit.get("descriptors", []) if d.get("entries") == PER_CLIENT_ENTRIES]
    actions = [action for rate_limit in limit.get("rate_limits", []) for action in rate_limit.get("actions", [])]
    if not descriptors:
        return ["no descriptor remote_address without a value: no bucket per client"]
    problems = []
    if {"remote_address": {}} not in actions:
        problems.append("no rate_limits action remote_address: the per-client descriptor never matches a request")
    if "max_dynamic_descriptors" not in limit:
        problems.append(
            "max_dynamic_descriptors is not set: Envoy keeps 20 client buckets, so a 21st client resets the "
            "bucket of the one seen longest ago"
        )
    return problems


def _virtual_host_limits(m: Manifests, gateway: Mapping) -> Iterator[tuple[str, tuple[dict, Mapping]]]:
    """(host, (EnvoyFilter, its local rate limit)) for the virtual hosts of the gateway's pods."""
    selector = gateway["spec"].get("selector", {})
    for envoy_filter in m.of_kind("EnvoyFilter"):
        if namespace(envoy_filter) != namespace(gateway):
            continue
        if not labels_match(envoy_filter["spec"].get("workloadSelector", {}).get("labels", {}), selector):
            continue
        for patch in envoy_filter["spec"].get("configPatches", []):
            host = patch.get("match", {}).get("routeConfiguration", {}).get("vhost", {}).get("domainName")
            limit = patch.get("patch", {}).get("value", {}).get("typed_per_filter_config", {}).get(LOCAL_RATE_LIMIT)
            if patch.get("applyTo") == "VIRTUAL_HOST" and host and limit:
                yield host, (envoy_filter, limit)


def the_gateway_sees_the_client(m: Manifests) -> list[str]:
    """The gateway's pods say how many proxies in front may name the client; with none, its load balancer keeps the
    client's address (externalTrafficPolicy: Local), or every client would be the node that forwarded it."""
    problems = []
    for gateway in m.of_kind("Gateway"):
        selector = gateway["spec"].get("selector", {})
        for workload in m.pods_selected(selector, namespace(gateway)):
            hops = _trusted_proxies(workload)
            if hops is None:
                problems.append(
                    f"{workload.ref}: the pods of {ref(gateway)} do not set gatewayTopology.numTrustedProxies in "
                    f"their {PROXY_CONFIG} annotation, so who the client is depends on the mesh's defaults"
                )
                continue
            for service in _load_balancers_of(m, workload):
                if hops == 0 and service["spec"].get("externalTrafficPolicy") != "Local":
                    problems.append(
                        f"{ref(service)}: a LoadBalancer in front of {ref(gateway)}'s pods, which trust no proxy "
                        "(numTrustedProxies 0), without externalTrafficPolicy: Local: the nodes re-source the "
                        "connections, so the gateway sees a node's address for every client"
                    )
    return problems


def _trusted_proxies(workload: Workload) -> int | None:
    config = yaml.safe_load(workload.pod_annotations.get(PROXY_CONFIG, "")) or {}
    hops = config.get("gatewayTopology", {}).get("numTrustedProxies") if isinstance(config, dict) else None
    return hops if isinstance(hops, int) else None


def _load_balancers_of(m: Manifests, workload: Workload) -> list[dict]:
    return [
        service
        for service in m.of_kind("Service")
        if service["spec"].get("type") == "LoadBalancer"
        and namespace(service) == workload.namespace
        and service["spec"].get("selector")
        and labels_match(service["spec"]["selector"], workload.pod_labels)
    ]
