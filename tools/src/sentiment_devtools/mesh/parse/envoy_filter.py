"""An EnvoyFilter of the supported shapes: HTTP filters inserted at the gateway, and their per-virtual-host settings."""

from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.model import GatewayFilter, VirtualHostPatch
from sentiment_devtools.mesh.parse.local_rate_limit import LOCAL_RATE_LIMIT_FILTER, check_local_rate_limit
from sentiment_devtools.mesh.strict import Fields, spec_of

# The HTTP filters an EnvoyFilter may insert at the gateway: the rate limits,
# and the request-size limit (the buffer filter answers 413).
GATEWAY_HTTP_FILTERS = (LOCAL_RATE_LIMIT_FILTER, "envoy.filters.http.buffer")


def gateway_filter(document: dict, resource: str, position: int) -> GatewayFilter:
    """The EnvoyFilter shapes supported: HTTP filters for the gateway and their per-virtual-host settings.

    HTTP_FILTER patches INSERT_BEFORE the router one of GATEWAY_HTTP_FILTERS;
    VIRTUAL_HOST patches MERGE `typed_per_filter_config` for those filters into
    the virtual hosts matched by `vhost.name` and `vhost.domainName` (any of the
    virtual host's domains), as istiod matches them.
    """
    spec = spec_of(document, resource)
    priority = spec.take_int("priority", 0)
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
            if value["name"] == LOCAL_RATE_LIMIT_FILTER:
                check_local_rate_limit(value.get("typed_config"), resource, f"{patch.path}.patch.value.typed_config")
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
    return GatewayFilter(document["metadata"]["name"], labels, http_filters, vhost_patches, priority, position)


def _virtual_host_patch(match: Fields, patch: Fields, value: object) -> VirtualHostPatch:
    route_configuration = match.nested("routeConfiguration", required=True)
    vhost = route_configuration.nested("vhost", required=True)
    domain, name = vhost.take_str("domainName"), vhost.take_str("name")
    vhost.done()
    route_configuration.done()
    if domain is None and name is None:
        raise vhost.error("", "needs domainName, name or both (both: a virtual host must match both, as in Istio)")
    if not isinstance(value, dict) or set(value) != {"typed_per_filter_config"}:
        raise patch.error("patch.value", "a VIRTUAL_HOST merge may only set typed_per_filter_config")
    per_filter = value["typed_per_filter_config"]
    if not isinstance(per_filter, dict) or not set(per_filter) <= set(GATEWAY_HTTP_FILTERS):
        raise patch.error("patch.value.typed_per_filter_config", f"only {', '.join(GATEWAY_HTTP_FILTERS)}")
    if LOCAL_RATE_LIMIT_FILTER in per_filter:
        path = f"{patch.path}.patch.value.typed_per_filter_config.{LOCAL_RATE_LIMIT_FILTER}"
        check_local_rate_limit(per_filter[LOCAL_RATE_LIMIT_FILTER], patch.resource, path)
    return VirtualHostPatch(domain, name, per_filter)


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
