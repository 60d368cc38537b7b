"""Each calling workload's outbound listener: the mesh routes of one host as that caller's sidecar sees them, which
is where `sourceLabels` are evaluated."""

from sentiment_devtools.mesh.envoy.clusters import Clusters
from sentiment_devtools.mesh.envoy.ingress import binds
from sentiment_devtools.mesh.envoy.listeners import http_filter_chain, http_listener, short_host
from sentiment_devtools.mesh.envoy.routes import LocalOrigins, envoy_routes, route_defaults, route_to
from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.model import Destination, HeaderPolicy, Mesh
from sentiment_devtools.mesh.topology import Sidecar, Topology


def sidecar_listener(mesh: Mesh, sidecar: Sidecar, topology: Topology, clusters: Clusters) -> dict:
    services = [
        vs
        for vs in mesh.virtual_services
        if binds(vs, "mesh") and short_host(sidecar.host) in map(short_host, vs.hosts)
    ]
    if len(services) > 1:
        raise CompileError("VirtualService", f"several mesh VirtualServices for host {sidecar.host}")
    if services:
        routes = envoy_routes(services[0], sidecar.caller_labels, clusters, LocalOrigins(set(), topology))
    else:
        destination = Destination(host=sidecar.host, subset=None, port=None, weight=None, headers=HeaderPolicy())
        routes = [
            route_to(
                {"prefix": "/"},
                {**route_defaults(), "cluster": clusters.name_for(destination, "topology", sidecar.caller_labels)},
            )
        ]
    caller = "_".join(f"{value}" for value in sidecar.caller_labels.values())
    name = f"outbound_{short_host(sidecar.host)}_from_{caller}"
    # Locally the caller addresses its sidecar port directly, so any Host header is this host.
    virtual_hosts = [{"name": short_host(sidecar.host), "domains": ["*"], "routes": routes}]
    return http_listener(name, topology, sidecar.port, virtual_hosts, http_filter_chain(virtual_hosts, []))
