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
- clusters are named as istiod names them,
  `outbound|<port>|<subset>|<service>.<namespace>.svc.cluster.local`, one per
  subset, with the DestinationRule's connection pool and outlier detection,
  and Istio's defaults where the rule is silent;
- routes get Istio's default retry policy and no route timeout, unless the
  VirtualService says otherwise.
"""

import yaml

from sentiment_devtools.mesh.envoy.clusters import Clusters
from sentiment_devtools.mesh.envoy.inbound import inbound_listeners
from sentiment_devtools.mesh.envoy.ingress import ingress_listeners
from sentiment_devtools.mesh.envoy.listeners import socket_address
from sentiment_devtools.mesh.envoy.sidecars import sidecar_listener
from sentiment_devtools.mesh.envoy.stats import stats_config
from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.model import Gateway, Mesh
from sentiment_devtools.mesh.topology import Topology


def to_yaml(config: dict) -> str:
    """Envoy's config as YAML a person can read: no anchors or aliases for shared parts."""

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    return yaml.dump(config, Dumper=_Dumper, sort_keys=False)


def compile_mesh(mesh: Mesh, topology: Topology) -> dict:
    clusters = Clusters(mesh, topology)
    gateway = _single_gateway(mesh)
    listeners = ingress_listeners(mesh, gateway, topology, clusters)
    listeners += [sidecar_listener(mesh, sidecar, topology, clusters) for sidecar in topology.sidecars]
    inbound, inbound_clusters = inbound_listeners(mesh, topology)
    return {
        "admin": {"address": socket_address(topology.bind_address, topology.admin_port)},
        "stats_config": stats_config(),
        "static_resources": {"listeners": listeners + inbound, "clusters": clusters.all() + inbound_clusters},
    }


def _single_gateway(mesh: Mesh) -> Gateway:
    if len(mesh.gateways) != 1:
        names = [gateway.name for gateway in mesh.gateways]
        raise CompileError("Gateway", f"exactly one Gateway is supported locally, found {names}")
    return mesh.gateways[0]
