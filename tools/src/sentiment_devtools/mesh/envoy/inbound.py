"""Each secured workload's inbound listener, as its sidecar's inbound side: mutual TLS as its PeerAuthentication
requires, its AuthorizationPolicies as Envoy's RBAC filter on the peer's principal, then the workload's own port.

Istio programs exactly this into the sidecar (its `virtualInbound` listener):
STRICT means a TLS listener that requires a client certificate signed by the
mesh's CA; an ALLOW policy becomes an RBAC policy per rule, named
`ns[<namespace>]-policy[<name>]-rule[<index>]`, whose principals are the
rule's `source.principals` as SPIFFE URIs. A request no rule allows gets
`403 RBAC: access denied` from the sidecar and never reaches the workload.
"""

from sentiment_devtools.mesh.envoy.listeners import envoy_duration, http_listener, socket_address
from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.model import AuthorizationPolicy, Mesh, PodIdentity
from sentiment_devtools.mesh.topology import Inbound, MeshTls, TlsFiles, Topology, Workload

_ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
_TLS_SOCKET = "envoy.transport_sockets.tls"
_TLS_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3"
_RBAC = "envoy.filters.http.rbac"
_RBAC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
_ISTIO_UNLIMITED = 4294967295
_THRESHOLDS = ("max_connections", "max_pending_requests", "max_requests", "max_retries")


def inbound_workload(inbound: Inbound, topology: Topology) -> Workload:
    found = [w for w in topology.workloads if inbound.fronts(w)]
    if len(found) != 1:
        port = "" if inbound.workload_port is None else f" and the port {inbound.workload_port}"
        message = f"inbound listener {inbound.labels}: {len(found)} workloads have these labels{port}"
        raise CompileError("topology", message)
    return found[0]


def inbound_listeners(mesh: Mesh, topology: Topology) -> tuple[list[dict], list[dict]]:
    """The inbound listeners and the clusters behind them (`inbound|<port>||`, the workload's own port)."""
    _refuse_policies_without_a_listener(mesh, topology)
    if topology.inbound and topology.mesh_tls is None:
        raise CompileError("topology", "inbound listeners need the mesh's certificates (mesh_tls)")
    listeners, clusters = [], []
    for inbound in topology.inbound:
        workload = inbound_workload(inbound, topology)
        where = f"topology: inbound {inbound.labels}"
        pod = mesh.identity_of(workload.labels, where)
        _require_strict(mesh, pod, where)
        cluster_name = f"inbound|{workload.port}||"
        clusters.append(_inbound_cluster(cluster_name, workload))
        policies = [p for p in mesh.authorization_policies if _selects(p.selector, p.namespace, pod)]
        virtual_hosts = [
            {
                "name": f"inbound|http|{workload.port}",
                "domains": ["*"],
                "routes": [_inbound_route(cluster_name)],
            }
        ]
        filters = ([_rbac_filter(policies, topology.mesh_tls)] if policies else []) + [_ROUTER]
        # One listener per workload: named by the workload's port too where the topology names it (replicas).
        name = (
            "inbound_"
            + "_".join(workload.labels.values())
            + ("" if inbound.workload_port is None else f"_{workload.port}")
        )
        listener = http_listener(name, topology, inbound.port, virtual_hosts, filters)
        manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
        manager["stat_prefix"] = f"inbound_{topology.bind_address}_{workload.port}"
        # A sidecar's inbound side: its caller's certificate's details go to the workload.
        manager["forward_client_cert_details"] = "APPEND_FORWARD"
        manager["set_current_client_cert_details"] = {"subject": True, "dns": True, "uri": True}
        listener["filter_chains"][0]["transport_socket"] = _downstream_mtls(topology.mesh_tls, pod)
        listeners.append(listener)
    return listeners, clusters


def _inbound_route(cluster_name: str) -> dict:
    """istiod's default inbound route: no timeout, and (ENABLE_INBOUND_RETRY_POLICY, on since Istio 1.24) two
    retries of a request reset before it reached the workload, as when it closes an idle kept-alive connection."""
    return {
        "name": "default",
        "match": {"prefix": "/"},
        "route": {
            "cluster": cluster_name,
            "timeout": "0s",
            "retry_policy": {"retry_on": "reset-before-request", "num_retries": 2},
            "max_stream_duration": {"max_stream_duration": "0s", "grpc_timeout_header_max": "0s"},
        },
    }


def upstream_mtls(mesh_tls: MeshTls, caller: str, server_identities: list[str], sni: str) -> dict:
    """What a sidecar presents to a secured workload: its own certificate, and it accepts only the servers' SANs."""
    return {
        "name": _TLS_SOCKET,
        "typed_config": {
            "@type": f"{_TLS_TYPE}.UpstreamTlsContext",
            "sni": sni,
            "common_tls_context": {
                "tls_certificates": [_certificate(_identity_files(mesh_tls, caller))],
                "validation_context": {
                    "trusted_ca": {"filename": str(mesh_tls.ca_certificate)},
                    "match_typed_subject_alt_names": [
                        {"san_type": "URI", "matcher": {"exact": identity}} for identity in server_identities
                    ],
                },
                # Istio's sidecars name their mTLS in ALPN; the inbound side accepts it as HTTP/1.1.
                "alpn_protocols": ["istio-peer-exchange", "istio"],
            },
        },
    }


def spiffe(mesh_tls: MeshTls, pod: PodIdentity) -> str:
    return f"spiffe://{mesh_tls.trust_domain}/ns/{pod.namespace}/sa/{pod.service_account}"


def _downstream_mtls(mesh_tls: MeshTls, pod: PodIdentity) -> dict:
    return {
        "name": _TLS_SOCKET,
        "typed_config": {
            "@type": f"{_TLS_TYPE}.DownstreamTlsContext",
            "require_client_certificate": True,
            "common_tls_context": {
                "tls_certificates": [_certificate(_identity_files(mesh_tls, pod.service_account))],
                "validation_context": {"trusted_ca": {"filename": str(mesh_tls.ca_certificate)}},
                "alpn_protocols": ["h2", "http/1.1"],
            },
        },
    }


def _rbac_filter(policies: list[AuthorizationPolicy], mesh_tls: MeshTls) -> dict:
    rules = {}
    for policy in policies:
        for index, rule in enumerate(policy.rules):
            principals = [
                {"authenticated": {"principal_name": {"exact": f"spiffe://{name}"}}} for name in rule.principals
            ]
            rules[f"ns[{policy.namespace}]-policy[{policy.name}]-rule[{index}]"] = {
                "permissions": [{"any": True}],
                "principals": [{"or_ids": {"ids": principals}}],
            }
    # ALLOW with no matching rule denies; an ALLOW policy without rules allows nothing.
    return {"name": _RBAC, "typed_config": {"@type": _RBAC_TYPE, "rules": {"action": "ALLOW", "policies": rules}}}


def _require_strict(mesh: Mesh, pod: PodIdentity, where: str) -> None:
    """Istio: the workload's own PeerAuthentication wins over the namespace's; without any, PERMISSIVE."""
    applying = [pa for pa in mesh.peer_authentications if _selects(pa.selector, pa.namespace, pod)]
    own = [pa for pa in applying if pa.selector is not None]
    chosen = own or applying
    if len(chosen) > 1:
        raise CompileError(where, f"several PeerAuthentications apply: {[pa.name for pa in chosen]}")
    if not chosen:
        raise CompileError(
            where, f"no PeerAuthentication makes {pod.labels} STRICT (Istio's default, PERMISSIVE, is not compiled)"
        )


def _selects(selector: dict[str, str] | None, namespace: str, pod: PodIdentity) -> bool:
    return namespace == pod.namespace and (selector is None or selector.items() <= pod.labels.items())


def _refuse_policies_without_a_listener(mesh: Mesh, topology: Topology) -> None:
    """An AuthorizationPolicy is run only where a workload has an inbound listener: refuse one that would not be."""
    if topology.mesh_tls is None:
        return
    secured = [inbound_workload(inbound, topology).labels for inbound in topology.inbound]
    for policy in mesh.authorization_policies:
        for workload in topology.workloads:
            selected = policy.selector.items() <= workload.labels.items()
            if selected and workload.labels not in secured:
                raise CompileError(
                    f"AuthorizationPolicy/{policy.name}",
                    f"selects the workload {workload.labels}, which has no inbound listener in the topology",
                )


def _identity_files(mesh_tls: MeshTls, account: str) -> TlsFiles:
    if account not in mesh_tls.identities:
        raise CompileError("topology", f"mesh_tls: no certificate for the service account {account}")
    return mesh_tls.identities[account]


def _certificate(files: TlsFiles) -> dict:
    return {
        "certificate_chain": {"filename": str(files.certificate)},
        "private_key": {"filename": str(files.private_key)},
    }


def _inbound_cluster(name: str, workload: Workload) -> dict:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": envoy_duration(10.0),
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": socket_address(workload.address, workload.port)}}]}
            ],
        },
        "circuit_breakers": {"thresholds": [dict.fromkeys(_THRESHOLDS, _ISTIO_UNLIMITED)]},
    }
