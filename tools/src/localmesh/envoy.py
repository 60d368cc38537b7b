"""From the mesh model and a topology to an Envoy bootstrap with static resources.

The translation follows what Istio programs into Envoy (docs/local-mesh.md):
- each VirtualService http route becomes one Envoy route per `match` entry
  (Istio ORs them), in order; no match means prefix "/";
- header and URI matches keep their kind: exact, prefix, or regex as a
  full-match RE2 `safe_regex`;
- several destinations become `weighted_clusters`, each keeping its own
  header operations (that is how a Set-Cookie names the version that served);
- `sourceLabels` are evaluated at compile time against the caller, as the
  caller's sidecar does: match entries for other callers are dropped, and a
  route left with none is not this caller's route;
- clusters are named like Istio's, `outbound|<port>|<subset>|<host>`, one per
  subset, with the DestinationRule's connection pool and outlier detection,
  and Istio's defaults where the rule is silent;
- routes get Istio's default retry policy and no route timeout, unless the
  VirtualService says otherwise.
"""

import ipaddress
from dataclasses import dataclass

import yaml

from localmesh.errors import CompileError
from localmesh.model import (
    CorsPolicy,
    Destination,
    DestinationRule,
    Gateway,
    GatewayFilter,
    HeaderOperations,
    HeaderPolicy,
    HttpRoute,
    Mesh,
    RequestMatch,
    StringMatch,
    VirtualService,
)
from localmesh.topology import Sidecar, Topology

HTTP_CONNECTION_MANAGER = "envoy.filters.network.http_connection_manager"
_HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
_CORS_FILTER = "envoy.filters.http.cors"
_CORS = {
    "name": _CORS_FILTER,
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"},
}
_HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
# What Istio sets when a DestinationRule is silent.
_ISTIO_UNLIMITED = 4294967295
_ISTIO_CONNECT_TIMEOUT_SECONDS = 10.0
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


def to_yaml(config: dict) -> str:
    """Envoy's config as YAML a person can read: no anchors or aliases for shared parts."""

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    return yaml.dump(config, Dumper=_Dumper, sort_keys=False)


def compile_mesh(mesh: Mesh, topology: Topology) -> dict:
    clusters = _Clusters(mesh, topology)
    gateway = _single_gateway(mesh)
    listeners = _ingress_listeners(mesh, gateway, topology, clusters)
    listeners += [_sidecar_listener(mesh, sidecar, topology, clusters) for sidecar in topology.sidecars]
    return {
        "admin": {"address": _socket(topology.bind_address, topology.admin_port)},
        "static_resources": {"listeners": listeners, "clusters": clusters.all()},
    }


def _single_gateway(mesh: Mesh) -> Gateway:
    if len(mesh.gateways) != 1:
        names = [gateway.name for gateway in mesh.gateways]
        raise CompileError("Gateway", f"exactly one Gateway is supported locally, found {names}")
    return mesh.gateways[0]


# --- the ingress gateway ----------------------------------------------------


def _ingress_listeners(mesh: Mesh, gateway: Gateway, topology: Topology, clusters: "_Clusters") -> list[dict]:
    bound = [vs for vs in mesh.virtual_services if _binds(vs, gateway.name)]
    served_hosts = {host for server in gateway.servers for host in server.hosts}
    routed_port = {}
    for server in gateway.servers:
        for host in server.hosts:
            if not server.https_redirect:
                routed_port[host] = max(routed_port.get(host, 0), server.port)
    virtual_hosts = []
    for vs in bound:
        for host in vs.hosts:
            if host not in served_hosts:
                raise CompileError(f"VirtualService/{vs.name}", f"spec.hosts: {host} is on no server of {gateway.name}")
            routes = _routes(vs, gateway.selector, clusters, _LocalOrigins(served_hosts, topology))
            virtual_hosts.append(
                {"name": f"{host}:{routed_port.get(host, 80)}", "domains": _domains(host, topology), "routes": routes}
            )
    gateway_filters = _gateway_filters_for(mesh, gateway)
    for gateway_filter in gateway_filters:
        _apply_virtual_host_patches(gateway_filter, virtual_hosts)
    http_filters = _http_filters(virtual_hosts, [f for gf in gateway_filters for f in gf.http_filters])
    if topology.tls is None:
        return [_http_listener("ingress_http", topology, topology.ingress_port, virtual_hosts, http_filters)]
    redirect_hosts = {host for server in gateway.servers if server.https_redirect for host in server.hosts}
    plain = [vh for vh in virtual_hosts if vh["name"].split(":")[0] not in redirect_hosts]
    redirects = [
        {
            "name": f"{host}:redirect",
            "domains": _domains(host, topology),
            "routes": [
                {"match": {"prefix": "/"}, "redirect": {"https_redirect": True, "port_redirect": topology.tls_port}}
            ],
        }
        for host in sorted(redirect_hosts)
    ]
    https = _http_listener("ingress_https", topology, topology.tls_port, virtual_hosts, http_filters)
    https["filter_chains"][0]["transport_socket"] = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": str(topology.tls.certificate)},
                        "private_key": {"filename": str(topology.tls.private_key)},
                    }
                ]
            },
        },
    }
    return [_http_listener("ingress_http", topology, topology.ingress_port, plain + redirects, http_filters), https]


def _binds(vs: VirtualService, gateway_name: str) -> bool:
    return any(name.split("/")[-1] == gateway_name for name in vs.gateways)


def _domains(host: str, topology: Topology) -> list[str]:
    twin = f"{host.split('.')[0]}.{topology.local_domain}"
    return [host, f"{host}:*", twin, f"{twin}:*"]


def _gateway_filters_for(mesh: Mesh, gateway: Gateway) -> list[GatewayFilter]:
    for gateway_filter in mesh.gateway_filters:
        if not gateway_filter.workload_labels.items() <= gateway.selector.items():
            selects = gateway_filter.workload_labels
            raise CompileError(
                f"EnvoyFilter/{gateway_filter.name}",
                f"spec.workloadSelector: selects {selects}, not the gateway ({gateway.selector})",
            )
    return mesh.gateway_filters


def _apply_virtual_host_patches(gateway_filter: GatewayFilter, virtual_hosts: list[dict]) -> None:
    for patch in gateway_filter.virtual_host_patches:
        matched = [
            vh for vh in virtual_hosts if vh["domains"][0] == patch.domain or (patch.name and vh["name"] == patch.name)
        ]
        if not matched:
            raise CompileError(
                f"EnvoyFilter/{gateway_filter.name}",
                f"spec.configPatches: no virtual host {[patch.domain or patch.name]} on the gateway",
            )
        for virtual_host in matched:
            virtual_host.setdefault("typed_per_filter_config", {}).update(patch.typed_per_filter_config)


# --- sidecars -----------------------------------------------------------------


def _sidecar_listener(mesh: Mesh, sidecar: Sidecar, topology: Topology, clusters: "_Clusters") -> dict:
    services = [
        vs for vs in mesh.virtual_services if _binds(vs, "mesh") and _short(sidecar.host) in map(_short, vs.hosts)
    ]
    if len(services) > 1:
        raise CompileError("VirtualService", f"several mesh VirtualServices for host {sidecar.host}")
    if services:
        routes = _routes(services[0], sidecar.caller_labels, clusters, _LocalOrigins(set(), topology))
    else:
        destination = Destination(host=sidecar.host, subset=None, port=None, weight=None, headers=HeaderPolicy())
        routes = [_route({"prefix": "/"}, {**_route_defaults(), "cluster": clusters.name_for(destination, "topology")})]
    caller = "_".join(f"{value}" for value in sidecar.caller_labels.values())
    name = f"outbound_{_short(sidecar.host)}_from_{caller}"
    # Locally the caller addresses its sidecar port directly, so any Host header is this host.
    virtual_hosts = [{"name": _short(sidecar.host), "domains": ["*"], "routes": routes}]
    return _http_listener(name, topology, sidecar.port, virtual_hosts, _http_filters(virtual_hosts, []))


def _http_filters(virtual_hosts: list[dict], inserted: list[dict]) -> list[dict]:
    """CORS first, so that even the gateway's own answers (429, 413) carry its headers; the router last."""
    has_cors = any(_CORS_FILTER in r.get("typed_per_filter_config", {}) for vh in virtual_hosts for r in vh["routes"])
    return [*([_CORS] if has_cors else []), *inserted, _ROUTER]


# --- routes -----------------------------------------------------------------


def _routes(
    vs: VirtualService, caller_labels: dict[str, str], clusters: "_Clusters", origins: "_LocalOrigins"
) -> list[dict]:
    routes = []
    for index, route in enumerate(vs.routes):
        where = f"VirtualService/{vs.name}: spec.http[{index}]"
        matches = [match for match in (route.matches or [RequestMatch()]) if _applies_to(match, caller_labels)]
        action = _action(route, clusters, where)
        for match in matches:
            envoy_route = _route(_envoy_match(match), action)
            if route.name:
                envoy_route["name"] = route.name
            _add_headers(envoy_route, route.headers)
            if route.cors is not None:
                envoy_route["typed_per_filter_config"] = {_CORS_FILTER: _cors_policy(route.cors, origins)}
            if len(route.destinations) == 1:
                # A lone destination's header operations apply to the whole route.
                _add_headers(envoy_route, route.destinations[0].headers)
            routes.append(envoy_route)
    return routes


@dataclass(frozen=True)
class _LocalOrigins:
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


def _cors_policy(cors: CorsPolicy, origins: _LocalOrigins) -> dict:
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


def _route(match: dict, action: dict) -> dict:
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


def _action(route: HttpRoute, clusters: "_Clusters", where: str) -> dict:
    names = [clusters.name_for(destination, where) for destination in route.destinations]
    action = _route_defaults()
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


def _route_defaults() -> dict:
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


# --- clusters -----------------------------------------------------------------


@dataclass
class _Clusters:
    mesh: Mesh
    topology: Topology

    def __post_init__(self) -> None:
        self._clusters: dict[str, dict] = {}

    def all(self) -> list[dict]:
        return list(self._clusters.values())

    def name_for(self, destination: Destination, where: str) -> str:
        host = _short(destination.host)
        service = self.mesh.services.get(host)
        if service is None:
            raise CompileError(where, f"destination host {destination.host} is no Service in the manifests")
        port = self._port(service.ports, destination, where)
        rule = self.mesh.destination_rules.get(host)
        labels = dict(service.selector)
        if destination.subset is not None:
            if rule is None or destination.subset not in rule.subsets:
                raise CompileError(where, f"subset {destination.subset} of {host} is defined by no DestinationRule")
            labels |= rule.subsets[destination.subset]
        name = f"outbound|{port}|{destination.subset or ''}|{host}"
        if name not in self._clusters:
            endpoints = [w for w in self.topology.workloads if labels.items() <= w.labels.items()]
            if not endpoints:
                raise CompileError(where, f"no local workload has the labels {labels} (see the topology)")
            self._clusters[name] = _cluster(name, endpoints, rule)
        return name

    @staticmethod
    def _port(ports: dict[str, int], destination: Destination, where: str) -> int:
        if destination.port is not None:
            if destination.port not in ports.values():
                raise CompileError(where, f"{destination.host} has no port {destination.port}")
            return destination.port
        if len(ports) != 1:
            raise CompileError(where, f"{destination.host} has {len(ports)} ports: the destination must name one")
        return next(iter(ports.values()))


def _cluster(name: str, endpoints: list, rule: DestinationRule | None) -> dict:
    pool = rule.connection_pool if rule else None
    cluster = {
        "name": name,
        # Local processes have addresses; containers (docker compose) have names, resolved by DNS.
        "type": "STATIC" if all(_is_ip(e.address) for e in endpoints) else "STRICT_DNS",
        "connect_timeout": envoy_duration(
            pool.connect_timeout_seconds if pool and pool.connect_timeout_seconds else _ISTIO_CONNECT_TIMEOUT_SECONDS
        ),
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket(e.address, e.port)}} for e in endpoints]}],
        },
        "circuit_breakers": {
            "thresholds": [
                {
                    "max_connections": _or_unlimited(pool and pool.max_connections),
                    "max_pending_requests": _or_unlimited(pool and pool.max_pending_requests),
                    "max_requests": _or_unlimited(pool and pool.max_requests),
                    "max_retries": _or_unlimited(pool and pool.max_retries),
                }
            ]
        },
    }
    protocol_options = {}
    if pool and pool.max_requests_per_connection:
        protocol_options["max_requests_per_connection"] = pool.max_requests_per_connection
    if pool and pool.http_idle_timeout_seconds is not None:
        protocol_options["idle_timeout"] = envoy_duration(pool.http_idle_timeout_seconds)
    if pool and pool.tcp_idle_timeout_seconds is not None:
        raise CompileError(f"DestinationRule/{rule.name}", "connectionPool.tcp.idleTimeout is not supported")
    if protocol_options:
        cluster["typed_extension_protocol_options"] = {
            _HTTP_PROTOCOL_OPTIONS: {
                "@type": f"type.googleapis.com/{_HTTP_PROTOCOL_OPTIONS}",
                "common_http_protocol_options": protocol_options,
                "explicit_http_config": {"http_protocol_options": {}},
            }
        }
    outlier = rule.outlier_detection if rule else None
    if outlier is not None:
        detection = {}
        if outlier.consecutive_5xx is not None:
            detection |= {"consecutive_5xx": outlier.consecutive_5xx, "enforcing_consecutive_5xx": 100}
        if outlier.consecutive_gateway_errors is not None:
            detection |= {
                "consecutive_gateway_failure": outlier.consecutive_gateway_errors,
                "enforcing_consecutive_gateway_failure": 100,
            }
        if outlier.interval_seconds is not None:
            detection["interval"] = envoy_duration(outlier.interval_seconds)
        if outlier.base_ejection_seconds is not None:
            detection["base_ejection_time"] = envoy_duration(outlier.base_ejection_seconds)
        if outlier.max_ejection_percent is not None:
            detection["max_ejection_percent"] = outlier.max_ejection_percent
        # Istio: success-rate ejection off; the panic threshold is minHealthPercent (default 0).
        detection["enforcing_success_rate"] = 0
        cluster["outlier_detection"] = detection
        cluster["common_lb_config"] = {"healthy_panic_threshold": {"value": float(outlier.min_health_percent or 0)}}
    return cluster


def _or_unlimited(value: int | None) -> int:
    return _ISTIO_UNLIMITED if value is None else value


# --- plumbing -----------------------------------------------------------------


def _http_listener(name: str, topology: Topology, port: int, virtual_hosts: list[dict], http_filters: list) -> dict:
    manager = {
        "@type": _HCM_TYPE,
        "stat_prefix": name,
        "normalize_path": True,
        "use_remote_address": True,
        "route_config": {"name": name, "virtual_hosts": virtual_hosts},
        "http_filters": http_filters,
    }
    if topology.access_log is not None:
        manager["access_log"] = [
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": str(topology.access_log),
                },
            }
        ]
    return {
        "name": name,
        "address": _socket(topology.bind_address, port),
        "filter_chains": [{"filters": [{"name": HTTP_CONNECTION_MANAGER, "typed_config": manager}]}],
    }


def _socket(address: str, port: int) -> dict:
    return {"socket_address": {"address": address, "port_value": port}}


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _short(host: str) -> str:
    """`model-service.sentiment.svc.cluster.local` and `model-service` name the same Service."""
    return host.split(".")[0] if host.endswith(".svc.cluster.local") or "." not in host else host


def envoy_duration(seconds: float) -> str:
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
