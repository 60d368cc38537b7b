"""A VirtualService's http routes as Envoy routes, for one caller: matches, weighted destinations with their own
header operations, Istio's default timeout and retries, and CORS."""

from dataclasses import dataclass

from sentiment_devtools.mesh.envoy.clusters import Clusters
from sentiment_devtools.mesh.envoy.listeners import CORS_FILTER, envoy_duration
from sentiment_devtools.mesh.model import (
    CorsPolicy,
    HeaderOperations,
    HeaderPolicy,
    HttpRoute,
    RequestMatch,
    StringMatch,
    VirtualService,
)
from sentiment_devtools.mesh.topology import Topology

_ISTIO_DEFAULT_RETRY_POLICY = {
    "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
    "num_retries": 2,
    "retry_host_predicate": [
        {
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
            },
        }
    ],
    "host_selection_retry_max_attempts": 5,
}


@dataclass(frozen=True)
class LocalOrigins:
    """An allowed origin on a gateway host also allows that host's local twin."""

    gateway_hosts: set[str]
    topology: Topology

    def of(self, origin: StringMatch) -> list[StringMatch]:
        if origin.kind != "exact":
            return [origin]
        host = origin.value.partition("://")[2].partition(":")[0]
        if host not in self.gateway_hosts:
            return [origin]
        twin = f"{host.split('.')[0]}.{self.topology.local_domain}"
        twins = [f"http://{twin}:{self.topology.ingress_port}"]
        if self.topology.tls is not None:
            twins.append(f"https://{twin}:{self.topology.tls_port}")
        return [origin, *(StringMatch("exact", value) for value in twins)]


def envoy_routes(
    vs: VirtualService, caller_labels: dict[str, str], clusters: Clusters, origins: LocalOrigins
) -> list[dict]:
    routes = []
    for index, route in enumerate(vs.routes):
        where = f"VirtualService/{vs.name}: spec.http[{index}]"
        matches = [match for match in (route.matches or [RequestMatch()]) if _applies_to(match, caller_labels)]
        action = _action(route, clusters, where, caller_labels)
        for match in matches:
            envoy_route = route_to(_envoy_match(match), action)
            if route.name:
                envoy_route["name"] = route.name
            _add_headers(envoy_route, route.headers)
            if route.cors is not None:
                envoy_route["typed_per_filter_config"] = {CORS_FILTER: _cors_policy(route.cors, origins)}
            if len(route.destinations) == 1:
                # A lone destination's header operations apply to the whole route.
                _add_headers(envoy_route, route.destinations[0].headers)
            routes.append(envoy_route)
    return routes


def _cors_policy(cors: CorsPolicy, origins: LocalOrigins) -> dict:
    policy = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": [_string_match(m) for origin in cors.allow_origins for m in origins.of(origin)],
        "allow_credentials": cors.allow_credentials,
    }
    for field, values in (
        ("allow_methods", cors.allow_methods),
        ("allow_headers", cors.allow_headers),
        ("expose_headers", cors.expose_headers),
    ):
        if values:
            policy[field] = ",".join(values)
    if cors.max_age_seconds is not None:
        policy["max_age"] = str(int(cors.max_age_seconds))
    return policy


def _applies_to(match: RequestMatch, caller_labels: dict[str, str]) -> bool:
    return match.source_labels.items() <= caller_labels.items()


def route_to(match: dict, action: dict) -> dict:
    return {"match": match, "route": action}


def _envoy_match(match: RequestMatch) -> dict:
    envoy = {"prefix": "/"} if match.uri is None else _uri_match(match.uri)
    if match.headers:
        envoy["headers"] = [{"name": name, "string_match": _string_match(m)} for name, m in match.headers.items()]
    return envoy


def _uri_match(uri: StringMatch) -> dict:
    if uri.kind == "exact":
        return {"path": uri.value}
    if uri.kind == "prefix":
        return {"prefix": uri.value}
    return {"safe_regex": {"regex": uri.value}}


def _string_match(match: StringMatch) -> dict:
    return {"safe_regex": {"regex": match.value}} if match.kind == "regex" else {match.kind: match.value}


def _action(route: HttpRoute, clusters: Clusters, where: str, caller_labels: dict[str, str]) -> dict:
    names = [clusters.name_for(destination, where, caller_labels) for destination in route.destinations]
    action = route_defaults()
    if len(names) == 1:
        action["cluster"] = names[0]
    else:
        weighted = []
        for name, destination in zip(names, route.destinations, strict=True):
            cluster = {"name": name, "weight": destination.weight}
            _add_headers(cluster, destination.headers)
            weighted.append(cluster)
        action["weighted_clusters"] = {"clusters": weighted}
    if route.timeout_seconds is not None:
        action["timeout"] = envoy_duration(route.timeout_seconds)
    if route.retries is not None:
        action["retry_policy"] = _retry_policy(route)
    return action


def route_defaults() -> dict:
    # Istio disables Envoy's 15 s route timeout and retries failed connections twice.
    return {"timeout": "0s", "retry_policy": _ISTIO_DEFAULT_RETRY_POLICY}


def _retry_policy(route: HttpRoute) -> dict:
    retries = route.retries
    policy = {**_ISTIO_DEFAULT_RETRY_POLICY, "num_retries": retries.attempts}
    if retries.retry_on is not None:
        policy["retry_on"] = retries.retry_on
    if retries.per_try_timeout_seconds is not None:
        policy["per_try_timeout"] = envoy_duration(retries.per_try_timeout_seconds)
    return policy


def _add_headers(target: dict, policy: HeaderPolicy) -> None:
    """Istio's header operations on a route or a weighted destination."""
    for direction, operations in (("request", policy.request), ("response", policy.response)):
        added = _header_options(operations)
        if added:
            target[f"{direction}_headers_to_add"] = added
        if operations.remove:
            target[f"{direction}_headers_to_remove"] = list(operations.remove)


def _header_options(operations: HeaderOperations) -> list[dict]:
    options = [
        {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        for key, value in operations.set.items()
    ]
    options += [
        {"header": {"key": key, "value": value}, "append_action": "APPEND_IF_EXISTS_OR_ADD"}
        for key, value in operations.add.items()
    ]
    return options
