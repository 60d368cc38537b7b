"""The ingress gateway's listeners: one virtual host per VirtualService host bound to the Gateway, the gateway's
EnvoyFilters, who the client is (the trusted hops), and with a certificate an HTTPS listener while plain HTTP
requires TLS, as istiod's `require_tls` does."""

from itertools import pairwise

from sentiment_devtools.mesh.envoy.clusters import Clusters
from sentiment_devtools.mesh.envoy.listeners import http_filter_chain, http_listener
from sentiment_devtools.mesh.envoy.routes import LocalOrigins, envoy_routes
from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.model import Gateway, GatewayFilter, Mesh, VirtualService
from sentiment_devtools.mesh.topology import Topology


def ingress_listeners(mesh: Mesh, gateway: Gateway, topology: Topology, clusters: Clusters) -> list[dict]:
    bound = [vs for vs in mesh.virtual_services if binds(vs, gateway.name)]
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
            routes = envoy_routes(vs, gateway.selector, clusters, LocalOrigins(served_hosts, topology))
            virtual_hosts.append(
                {"name": f"{host}:{routed_port.get(host, 80)}", "domains": _domains(host, topology), "routes": routes}
            )
    redirect_hosts = {host for server in gateway.servers if server.https_redirect for host in server.hosts}
    # As istiod builds a plain server with httpsRedirect: a virtual host without routes that requires TLS, so
    # Envoy answers 301 to https:// on the same Host and path (a port in the Host is kept).
    redirect_port = {host: server.port for server in gateway.servers if server.https_redirect for host in server.hosts}
    redirects = [
        {
            "name": f"{host}:{redirect_port[host]}",
            "domains": _domains(host, topology),
            "routes": [],
            "require_tls": "ALL",
        }
        for host in sorted(redirect_hosts)
    ]
    gateway_filters = _gateway_filters_for(mesh, gateway)
    for gateway_filter in gateway_filters:
        _apply_virtual_host_patches(gateway_filter, virtual_hosts + (redirects if topology.tls else []))
    http_filters = http_filter_chain(virtual_hosts, [f for gf in gateway_filters for f in gf.http_filters])
    hops = gateway.num_trusted_proxies
    if topology.tls is None:
        return [
            _gateway_stat_prefix(
                http_listener("ingress_http", topology, topology.ingress_port, virtual_hosts, http_filters, hops)
            )
        ]
    plain = [vh for vh in virtual_hosts if vh["name"].split(":")[0] not in redirect_hosts]
    https = http_listener("ingress_https", topology, topology.tls_port, virtual_hosts, http_filters, hops)
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
                ],
                # What istiod's gateway offers on an HTTPS server: HTTP/2 first, then HTTP/1.1.
                "alpn_protocols": ["h2", "http/1.1"],
            },
        },
    }
    http = http_listener("ingress_http", topology, topology.ingress_port, plain + redirects, http_filters, hops)
    return [_gateway_stat_prefix(http), _gateway_stat_prefix(https)]


def _gateway_stat_prefix(listener: dict) -> dict:
    """The connection manager's stat_prefix as istiod gives a gateway's whose server has no `name`:
    `outbound_<address>_<port>`, its listener's name after the traffic direction, the address the wildcard
    istiod binds (the local port stands for the pod's). Istio's `http_conn_manager_prefix` tag takes only
    addresses, so the prefix stays in the statistics' names: `envoy_http_outbound_0_0_0_0_<port>_…`."""
    port = listener["address"]["socket_address"]["port_value"]
    listener["filter_chains"][0]["filters"][0]["typed_config"]["stat_prefix"] = f"outbound_0.0.0.0_{port}"
    return listener


def binds(vs: VirtualService, gateway_name: str) -> bool:
    return any(name.split("/")[-1] == gateway_name for name in vs.gateways)


def _domains(host: str, topology: Topology) -> list[str]:
    """The domains istiod gives a gateway's virtual host (`_cluster_domains`), then the local twin's."""
    twin = f"{host.split('.')[0]}.{topology.local_domain}"
    return [*_cluster_domains(host), twin, f"{twin}:*"]


def _cluster_domains(host: str) -> list[str]:
    return [host, f"{host}:*"]


def _gateway_filters_for(mesh: Mesh, gateway: Gateway) -> list[GatewayFilter]:
    """The gateway's EnvoyFilters in the order istiod applies them: by priority, then creation time, then name.

    Locally the manifests' order stands for the creation time. `kubectl apply -k` creates them in that order,
    but often within one second, and creation times are kept in seconds: istiod then falls back to the name. Where
    the two orders differ, which one a cluster follows depends on timing, so the compile stops instead."""
    for gateway_filter in mesh.gateway_filters:
        if not gateway_filter.workload_labels.items() <= gateway.selector.items():
            selects = gateway_filter.workload_labels
            raise CompileError(
                f"EnvoyFilter/{gateway_filter.name}",
                f"spec.workloadSelector: selects {selects}, not the gateway ({gateway.selector})",
            )
    ordered = sorted(mesh.gateway_filters, key=lambda f: (f.priority, f.position, f.name))
    for earlier, later in pairwise(ordered):
        if earlier.priority == later.priority and earlier.name > later.name:
            raise CompileError(
                f"EnvoyFilter/{later.name}",
                f"comes after EnvoyFilter/{earlier.name} in the manifests but before it by name, at the same priority "
                f"({later.priority}): on a cluster their order depends on their creation times; give spec.priority",
            )
    return ordered


def _apply_virtual_host_patches(gateway_filter: GatewayFilter, virtual_hosts: list[dict]) -> None:
    for patch in gateway_filter.virtual_host_patches:
        # As istiod matches them: the name if given, and the domain among all the virtual host's domains if given
        # (the cluster's: the local twins exist only here).
        matched = [
            vh
            for vh in virtual_hosts
            if (patch.name is None or vh["name"] == patch.name)
            and (patch.domain is None or patch.domain in _cluster_domains(vh["name"].rpartition(":")[0]))
        ]
        if not matched:
            raise CompileError(
                f"EnvoyFilter/{gateway_filter.name}",
                f"spec.configPatches: no virtual host {[v for v in (patch.domain, patch.name) if v]} on the gateway",
            )
        for virtual_host in matched:
            virtual_host.setdefault("typed_per_filter_config", {}).update(patch.typed_per_filter_config)
