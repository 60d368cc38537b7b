"""What the cluster would provide and the manifests cannot say: where things run.

In a cluster, Kubernetes knows which pods back a Service and Istio injects a
sidecar into each. Locally, the topology says which process (labels, address)
stands for which pod, and on which port each caller's sidecar listens.
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
class TlsFiles:
    certificate: Path
    private_key: Path


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

    @classmethod
    def from_json(cls, path: Path) -> "Topology":
        data = json.loads(path.read_text())
        tls = data.pop("tls", None)
        access_log = data.pop("access_log", None)
        return cls(
            workloads=[Workload(**w) for w in data.pop("workloads")],
            sidecars=[Sidecar(**s) for s in data.pop("sidecars", [])],
            tls=TlsFiles(Path(tls["certificate"]), Path(tls["private_key"])) if tls else None,
            access_log=Path(access_log) if access_log else None,
            **data,
        )
