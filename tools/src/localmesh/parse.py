"""From rendered manifests (a list of dicts) to the compiler's model, strictly.

Only the resources that program Envoy's routing are read: Gateway,
VirtualService, DestinationRule, the rate-limit EnvoyFilter, and Services
(for their selectors and ports). Istio kinds that do something else are
listed in NOT_EMULATED with the reason; any other Istio kind is refused.
"""

import re

from localmesh.errors import CompileError
from localmesh.model import (
    ConnectionPool,
    CorsPolicy,
    Destination,
    DestinationRule,
    Gateway,
    GatewayFilter,
    HeaderOperations,
    HeaderPolicy,
    HttpRoute,
    Mesh,
    OutlierDetection,
    RequestMatch,
    Retries,
    Server,
    Service,
    StringMatch,
    VirtualHostPatch,
    VirtualService,
)
from localmesh.strict import Fields

ISTIO_GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io")
# Istio resources that matter in a cluster but not to local routing.
NOT_EMULATED = {
    "ServiceEntry": "outbound hosts outside the mesh; local processes reach the internet directly",
    "PeerAuthentication": "mTLS between sidecars; local hops are plain HTTP on 127.0.0.1",
    "AuthorizationPolicy": "identity-based access between workloads; there are no identities locally",
}
# The HTTP filters an EnvoyFilter may insert at the gateway: the API's rate
# limit, and the request-size limit (the buffer filter answers 413).
GATEWAY_HTTP_FILTERS = ("envoy.filters.http.local_ratelimit", "envoy.filters.http.buffer")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_mesh(documents: list[dict]) -> Mesh:
    gateways, virtual_services, gateway_filters = [], [], []
    destination_rules: dict[str, DestinationRule] = {}
    services: dict[str, Service] = {}
    for document in documents:
        kind = document.get("kind", "")
        group = str(document.get("apiVersion", "")).partition("/")[0]
        name = document.get("metadata", {}).get("name", "?")
        resource = f"{kind}/{name}"
        if kind == "Service" and group == "v1":
            services[name] = _service(document, resource)
        elif group not in ISTIO_GROUPS or kind in NOT_EMULATED:
            continue
        elif kind == "Gateway":
            gateways.append(_gateway(document, resource))
        elif kind == "VirtualService":
            virtual_services.append(_virtual_service(document, resource))
        elif kind == "DestinationRule":
            rule = _destination_rule(document, resource)
            if rule.host in destination_rules:
                raise CompileError(resource, f"spec.host: a second DestinationRule for host {rule.host}")
            destination_rules[rule.host] = rule
        elif kind == "EnvoyFilter":
            gateway_filters.append(_gateway_filter(document, resource))
        else:
            raise CompileError(resource, f"{group} kind {kind} is not supported by the local mesh compiler")
    return Mesh(gateways, virtual_services, destination_rules, gateway_filters, services)


def _spec(document: dict, resource: str) -> Fields:
    return Fields(document.get("spec", {}), resource, "spec")


def _service(document: dict, resource: str) -> Service:
    spec = document.get("spec", {})
    ports = {str(port.get("name", "")): int(port["port"]) for port in spec.get("ports", [])}
    return Service(name=document["metadata"]["name"], selector=dict(spec.get("selector", {})), ports=ports)


def _gateway(document: dict, resource: str) -> Gateway:
    spec = _spec(document, resource)
    selector = spec.string_map("selector")
    servers = [_server(server) for server in spec.items("servers", required=True)]
    spec.done()
    return Gateway(name=document["metadata"]["name"], selector=selector, servers=servers)


def _server(server: Fields) -> Server:
    port = server.nested("port", required=True)
    number = port.take_int("number")
    port.take_str("name")
    protocol = port.take_str("protocol", required=True)
    port.done()
    if protocol not in ("HTTP", "HTTPS"):
        raise server.error("port.protocol", f"{protocol} is not supported (HTTP or HTTPS)")
    hosts = server.strings("hosts", required=True)
    https_redirect, mode = False, None
    tls = server.nested("tls")
    if tls is not None:
        https_redirect = bool(tls.take("httpsRedirect", False))
        mode = tls.take_str("mode")
        if mode not in (None, "SIMPLE"):
            raise tls.error("mode", f"{mode} is not supported (SIMPLE: the certificate is given to the compiler)")
        # Locally the certificate is a file given to the compiler (Topology.tls), not a Secret.
        tls.take_str("credentialName")
        tls.done()
    if (protocol == "HTTPS") != (mode == "SIMPLE"):
        raise server.error("tls.mode", "SIMPLE goes with an HTTPS server, and an HTTPS server needs it")
    server.done()
    return Server(port=number, protocol=protocol, hosts=hosts, https_redirect=https_redirect)


def _virtual_service(document: dict, resource: str) -> VirtualService:
    spec = _spec(document, resource)
    hosts = spec.strings("hosts", required=True)
    gateways = spec.strings("gateways") or ["mesh"]
    routes = [_http_route(route) for route in spec.items("http", required=True)]
    spec.done()
    return VirtualService(name=document["metadata"]["name"], hosts=hosts, gateways=gateways, routes=routes)


def _http_route(route: Fields) -> HttpRoute:
    name = route.take_str("name")
    matches = [_request_match(match) for match in route.items("match")]
    destinations = [_destination(destination) for destination in route.items("route", required=True)]
    headers = _header_policy(route.nested("headers"))
    timeout = route.take_str("timeout")
    retries = _retries(route.nested("retries"))
    cors = _cors_policy(route.nested("corsPolicy"))
    route.done()
    weights = [d.weight for d in destinations]
    if len(destinations) > 1 and (None in weights or sum(weights) != 100):
        raise route.error("route", f"weights of several destinations must be given and sum to 100, found {weights}")
    return HttpRoute(
        name=name,
        matches=matches,
        destinations=destinations,
        headers=headers,
        timeout_seconds=None if timeout is None else parse_duration(timeout, route, "timeout"),
        retries=retries,
        cors=cors,
    )


def _cors_policy(fields: Fields | None) -> CorsPolicy | None:
    if fields is None:
        return None
    origins = [_string_match(origin) for origin in fields.items("allowOrigins", required=True)]
    policy = CorsPolicy(
        allow_origins=origins,
        allow_methods=fields.strings("allowMethods"),
        allow_headers=fields.strings("allowHeaders"),
        expose_headers=fields.strings("exposeHeaders"),
        max_age_seconds=_optional_duration(fields, "maxAge"),
        allow_credentials=bool(fields.take("allowCredentials", False)),
    )
    fields.done()
    return policy


def _request_match(match: Fields) -> RequestMatch:
    uri = _string_match(match.nested("uri"))
    headers = {}
    header_fields = match.nested("headers")
    if header_fields is not None:
        for header in header_fields.field_names():
            if header != header.lower():
                raise header_fields.error(header, "header names must be lowercase, as Istio requires")
            headers[header] = _string_match(header_fields.nested(header))
        header_fields.done()
    source_labels = match.string_map("sourceLabels")
    match.take_str("name")
    match.done()
    return RequestMatch(uri=uri, headers=headers, source_labels=source_labels)


def _string_match(fields: Fields | None) -> StringMatch | None:
    if fields is None:
        return None
    kinds = [kind for kind in ("exact", "prefix", "regex") if kind in fields]
    if len(kinds) != 1 or len(fields.field_names()) != 1:
        raise fields.error("", f"needs exactly one of exact, prefix, regex; found {fields.field_names()}")
    value = fields.take_str(kinds[0])
    fields.done()
    if kinds[0] == "regex":
        _check_re2(value, fields)
    return StringMatch(kinds[0], value)


def _check_re2(pattern: str, fields: Fields) -> None:
    """Refuse what Python can tell is not a regex; Envoy's RE2 checks the rest at validation."""
    try:
        re.compile(pattern)
    except re.error as error:
        raise fields.error("regex", f"not a valid regular expression: {error}") from None


def _destination(route_destination: Fields) -> Destination:
    destination = route_destination.nested("destination", required=True)
    host = destination.take_str("host", required=True)
    subset = destination.take_str("subset")
    port_fields = destination.nested("port")
    port = None
    if port_fields is not None:
        port = port_fields.take_int("number")
        port_fields.done()
    destination.done()
    weight = route_destination.take_int("weight")
    headers = _header_policy(route_destination.nested("headers"))
    route_destination.done()
    return Destination(host=host, subset=subset, port=port, weight=weight, headers=headers)


def _header_policy(fields: Fields | None) -> HeaderPolicy:
    if fields is None:
        return HeaderPolicy()
    policy = HeaderPolicy(
        request=_operations(fields.nested("request")), response=_operations(fields.nested("response"))
    )
    fields.done()
    return policy


def _operations(fields: Fields | None) -> HeaderOperations:
    if fields is None:
        return HeaderOperations()
    operations = HeaderOperations(
        set=fields.string_map("set"), add=fields.string_map("add"), remove=fields.strings("remove")
    )
    fields.done()
    return operations


def _retries(fields: Fields | None) -> Retries | None:
    if fields is None:
        return None
    attempts = fields.take_int("attempts", 0)
    per_try = fields.take_str("perTryTimeout")
    retries = Retries(
        attempts=attempts,
        per_try_timeout_seconds=None if per_try is None else parse_duration(per_try, fields, "perTryTimeout"),
        retry_on=fields.take_str("retryOn"),
    )
    fields.done()
    return retries


def _destination_rule(document: dict, resource: str) -> DestinationRule:
    spec = _spec(document, resource)
    host = spec.take_str("host", required=True)
    pool, outlier = ConnectionPool(), None
    policy = spec.nested("trafficPolicy")
    if policy is not None:
        pool = _connection_pool(policy.nested("connectionPool"))
        outlier = _outlier_detection(policy.nested("outlierDetection"))
        policy.done()
    subsets = {}
    for subset in spec.items("subsets"):
        subsets[subset.take_str("name", required=True)] = subset.string_map("labels")
        subset.done()
    spec.done()
    return DestinationRule(
        name=document["metadata"]["name"], host=host, connection_pool=pool, outlier_detection=outlier, subsets=subsets
    )


def _connection_pool(fields: Fields | None) -> ConnectionPool:
    if fields is None:
        return ConnectionPool()
    tcp = fields.nested("tcp") or Fields({}, fields.resource, f"{fields.path}.tcp")
    http = fields.nested("http") or Fields({}, fields.resource, f"{fields.path}.http")
    pool = ConnectionPool(
        max_connections=tcp.take_int("maxConnections"),
        connect_timeout_seconds=_optional_duration(tcp, "connectTimeout"),
        tcp_idle_timeout_seconds=_optional_duration(tcp, "idleTimeout"),
        max_pending_requests=http.take_int("http1MaxPendingRequests"),
        max_requests=http.take_int("http2MaxRequests"),
        max_requests_per_connection=http.take_int("maxRequestsPerConnection"),
        max_retries=http.take_int("maxRetries"),
        http_idle_timeout_seconds=_optional_duration(http, "idleTimeout"),
    )
    tcp.done()
    http.done()
    fields.done()
    return pool


def _outlier_detection(fields: Fields | None) -> OutlierDetection | None:
    if fields is None:
        return None
    outlier = OutlierDetection(
        consecutive_5xx=fields.take_int("consecutive5xxErrors"),
        consecutive_gateway_errors=fields.take_int("consecutiveGatewayErrors"),
        interval_seconds=_optional_duration(fields, "interval"),
        base_ejection_seconds=_optional_duration(fields, "baseEjectionTime"),
        max_ejection_percent=fields.take_int("maxEjectionPercent"),
        min_health_percent=fields.take_int("minHealthPercent"),
    )
    fields.done()
    return outlier


def _gateway_filter(document: dict, resource: str) -> GatewayFilter:
    """The EnvoyFilter shapes supported: HTTP filters for the gateway and their per-virtual-host settings.

    HTTP_FILTER patches INSERT_BEFORE the router one of GATEWAY_HTTP_FILTERS;
    VIRTUAL_HOST patches MERGE `typed_per_filter_config` for those filters into
    the virtual hosts matched by `vhost.domainName` or `vhost.name`.
    """
    spec = _spec(document, resource)
    selector = spec.nested("workloadSelector", required=True)
    labels = selector.string_map("labels")
    selector.done()
    http_filters, vhost_patches = [], []
    for patch in spec.items("configPatches", required=True):
        apply_to = patch.take_str("applyTo", required=True)
        match = patch.nested("match", required=True)
        if match.take_str("context") != "GATEWAY":
            raise match.error("context", "only GATEWAY patches are supported")
        operation_fields = patch.nested("patch", required=True)
        operation = operation_fields.take_str("operation", required=True)
        value = operation_fields.take("value", required=True)
        operation_fields.done()
        if apply_to == "HTTP_FILTER" and operation == "INSERT_BEFORE":
            _take_router_match(match)
            if not isinstance(value, dict) or value.get("name") not in GATEWAY_HTTP_FILTERS:
                raise patch.error("patch.value.name", f"only {', '.join(GATEWAY_HTTP_FILTERS)} can be inserted")
            http_filters.append(value)
        elif apply_to == "VIRTUAL_HOST" and operation == "MERGE":
            vhost_patches.append(_virtual_host_patch(match, patch, value))
        else:
            raise patch.error("applyTo", f"{apply_to} with {operation} is not supported")
        match.done()
        patch.done()
    spec.done()
    if not http_filters and not vhost_patches:
        raise CompileError(resource, "spec.configPatches: nothing the local mesh compiler supports")
    return GatewayFilter(document["metadata"]["name"], labels, http_filters, vhost_patches)


def _virtual_host_patch(match: Fields, patch: Fields, value: object) -> VirtualHostPatch:
    route_configuration = match.nested("routeConfiguration", required=True)
    vhost = route_configuration.nested("vhost", required=True)
    domain, name = vhost.take_str("domainName"), vhost.take_str("name")
    vhost.done()
    route_configuration.done()
    if (domain is None) == (name is None):
        raise vhost.error("", "needs exactly one of domainName, name")
    if not isinstance(value, dict) or set(value) != {"typed_per_filter_config"}:
        raise patch.error("patch.value", "a VIRTUAL_HOST merge may only set typed_per_filter_config")
    if not set(value["typed_per_filter_config"]) <= set(GATEWAY_HTTP_FILTERS):
        raise patch.error("patch.value.typed_per_filter_config", f"only {', '.join(GATEWAY_HTTP_FILTERS)}")
    return VirtualHostPatch(domain, name, value["typed_per_filter_config"])


def _take_router_match(match: Fields) -> None:
    """The insert point: before the router in the HTTP connection manager."""
    listener = match.nested("listener", required=True)
    chain = listener.nested("filterChain", required=True)
    network_filter = chain.nested("filter", required=True)
    if network_filter.take_str("name") != "envoy.filters.network.http_connection_manager":
        raise network_filter.error("name", "must be envoy.filters.network.http_connection_manager")
    sub_filter = network_filter.nested("subFilter", required=True)
    if sub_filter.take_str("name") != "envoy.filters.http.router":
        raise sub_filter.error("name", "must be envoy.filters.http.router")
    for fields in (sub_filter, network_filter, chain, listener):
        fields.done()


def _optional_duration(fields: Fields, key: str) -> float | None:
    value = fields.take_str(key)
    return None if value is None else parse_duration(value, fields, key)


def parse_duration(text: str, fields: Fields, key: str) -> float:
    """A Go duration as Istio writes them ("10s", "1m30s", "250ms") in seconds."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise fields.error(key, f"{text!r} is not a duration like 10s, 250ms or 1m30s")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
