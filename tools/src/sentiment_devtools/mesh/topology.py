"""What the cluster would provide and the manifests cannot say: where things run.

In a cluster, Kubernetes knows which pods back a Service and Istio injects a
sidecar into each, and istiod's CA gives each its certificate. Locally, the
topology says which process (labels, address) stands for which pod, on which
port each caller's sidecar listens (outbound) and each secured workload's
sidecar takes its calls (inbound), and where the certificates are.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Workload:
    """A local process standing for a pod: its pod labels and where it listens."""

    labels: dict[str, str]
    address: str
    port: int


@dataclass(frozen=True)
class Sidecar:
    """The outbound listener of one calling workload, for calls to one mesh host."""

    caller_labels: dict[str, str]
    host: str
    port: int


@dataclass(frozen=True)
class Inbound:
    """The inbound listener of one workload (its sidecar's side towards callers): where the mesh reaches it.

    In a pod, iptables sends every connection to the pod's address through its
    sidecar; locally, callers of the mesh are sent to this port instead, and
    the listener forwards to the workload's own port."""

    labels: dict[str, str]
    port: int
    # Which of the workloads with these labels, by its own port, where several are (replicas, each a pod with a
    # sidecar of its own); None: the only one.
    workload_port: int | None = None

    def fronts(self, workload: Workload) -> bool:
        return workload.labels == self.labels and self.workload_port in (None, workload.port)


@dataclass(frozen=True)
class TlsFiles:
    certificate: Path
    private_key: Path


@dataclass(frozen=True)
class MeshTls:
    """What istiod's CA gives each sidecar: the mesh's root certificate, and a certificate per service account
    whose URI SAN is that account's SPIFFE identity (`spiffe://<trust domain>/ns/<namespace>/sa/<account>`)."""

    ca_certificate: Path
    identities: dict[str, TlsFiles]
    trust_domain: str = "cluster.local"


@dataclass(frozen=True)
class Topology:
    workloads: list[Workload]
    ingress_port: int
    admin_port: int
    sidecars: list[Sidecar] = field(default_factory=list)
    # With a certificate, the gateway's HTTPS server listens on tls_port and
    # its HTTP server redirects there; without one, routes are served on HTTP.
    tls: TlsFiles | None = None
    tls_port: int | None = None
    bind_address: str = "127.0.0.1"
    # `app-frontend.k8s.local` also answers as `app-frontend.<local_domain>`.
    local_domain: str = "localhost"
    access_log: Path | None = None
    # With certificates, the workloads given an inbound listener require mutual TLS and run their policies.
    inbound: list[Inbound] = field(default_factory=list)
    mesh_tls: MeshTls | None = None

    @classmethod
    def from_json(cls, path: Path) -> "Topology":
        data = json.loads(path.read_text())
        tls = data.pop("tls", None)
        access_log = data.pop("access_log", None)
        mesh_tls = data.pop("mesh_tls", None)
        return cls(
            workloads=[Workload(**w) for w in data.pop("workloads")],
            sidecars=[Sidecar(**s) for s in data.pop("sidecars", [])],
            inbound=[Inbound(**i) for i in data.pop("inbound", [])],
            tls=TlsFiles(Path(tls["certificate"]), Path(tls["private_key"])) if tls else None,
            mesh_tls=_mesh_tls(mesh_tls) if mesh_tls else None,
            access_log=Path(access_log) if access_log else None,
            **data,
        )


def _mesh_tls(data: dict) -> MeshTls:
    identities = {
        account: TlsFiles(Path(files["certificate"]), Path(files["private_key"]))
        for account, files in data.pop("identities").items()
    }
    return MeshTls(ca_certificate=Path(data.pop("ca_certificate")), identities=identities, **data)
