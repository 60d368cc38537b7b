"""The listener plumbing every Envoy listener here shares: an HTTP connection manager, its filter chain, addresses."""

from sentiment_devtools.mesh.topology import Topology

HTTP_CONNECTION_MANAGER = "envoy.filters.network.http_connection_manager"


_HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}


CORS_FILTER = "envoy.filters.http.cors"


_CORS = {
    "name": CORS_FILTER,
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"},
}


def http_filter_chain(virtual_hosts: list[dict], inserted: list[dict]) -> list[dict]:
    """CORS first, so that even the gateway's own answers (429, 413) carry its headers; the router last."""
    has_cors = any(CORS_FILTER in r.get("typed_per_filter_config", {}) for vh in virtual_hosts for r in vh["routes"])
    return [*([_CORS] if has_cors else []), *inserted, _ROUTER]


def http_listener(
    name: str,
    topology: Topology,
    port: int,
    virtual_hosts: list[dict],
    http_filters: list,
    trusted_hops: int | None = None,
) -> dict:
    """An HTTP listener: a gateway's when `trusted_hops` is given, else a sidecar's.

    As istiod sets it, only a gateway uses the TCP peer's address as the client's (`use_remote_address`),
    trusting `trusted_hops` proxies in front (its numTrustedProxies; 0: the peer is the client, whatever
    X-Forwarded-For says); a sidecar's listeners, outbound and inbound, do not (PILOT_SIDECAR_USE_REMOTE_ADDRESS
    is off by default), and keep the caller's headers as they come."""
    manager = {
        "@type": _HCM_TYPE,
        "stat_prefix": name,
        "normalize_path": True,
        "use_remote_address": trusted_hops is not None,
        "route_config": {"name": name, "virtual_hosts": virtual_hosts},
        "http_filters": http_filters,
    }
    if trusted_hops is not None:
        manager["xff_num_trusted_hops"] = trusted_hops
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
        "address": socket_address(topology.bind_address, port),
        "filter_chains": [{"filters": [{"name": HTTP_CONNECTION_MANAGER, "typed_config": manager}]}],
    }


def socket_address(address: str, port: int) -> dict:
    return {"socket_address": {"address": address, "port_value": port}}


def short_host(host: str) -> str:
    """`model-service.sentiment.svc.cluster.local` and `model-service` name the same Service."""
    return host.split(".")[0] if host.endswith(".svc.cluster.local") or "." not in host else host


def envoy_duration(seconds: float) -> str:
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
