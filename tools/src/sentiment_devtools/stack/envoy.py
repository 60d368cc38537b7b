"""Envoy in front of the local processes, configured from the Istio manifests in k8s/.

At every start the manifests are rendered (kustomize, as `kubectl apply -k`
would), compiled by sentiment_devtools.mesh for this machine's topology, and checked with
`envoy --mode validate`, so a change to a VirtualService shows at the next
`make run`, and a manifest the compiler cannot honour stops it with the reason.
"""

import subprocess
import sys
from pathlib import Path

from sentiment_devtools.manifests.render import RenderError, render
from sentiment_devtools.mesh.certificate import self_signed
from sentiment_devtools.mesh.envoy import compile_mesh, to_yaml
from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.mesh_ca import mesh_certificates
from sentiment_devtools.mesh.model import Mesh
from sentiment_devtools.mesh.parse import parse_mesh
from sentiment_devtools.mesh.topology import Inbound, MeshTls, Sidecar, Topology, Workload
from sentiment_devtools.stack.instances import Instance, Ports
from sentiment_devtools.stack.supervisor import Process
from sentiment_devtools.system import API_HOST, FRONTEND_HOST, PUBLIC_HOSTS

ENVOY = Path(sys.executable).parent / "envoy"


class MeshError(Exception):
    """The manifests could not be turned into a working Envoy configuration."""


def access_log_path(state_dir: Path) -> Path:
    return state_dir.resolve() / "envoy" / "access.log"


def mesh_ca_dir(state_dir: Path) -> Path:
    """The local mesh's CA and every service account's certificate, made anew at each start of Envoy."""
    return state_dir.resolve() / "envoy" / "mesh-ca"


def _mesh_tls(mesh: Mesh, state_dir: Path) -> MeshTls:
    accounts = sorted({(pod.namespace, pod.service_account) for pod in mesh.pods})
    return mesh_certificates(mesh_ca_dir(state_dir), accounts)[1]


def envoy_process(k8s_dir: Path, instances: list[Instance], ports: Ports, state_dir: Path, tls: bool) -> Process:
    """Compile, validate and describe the Envoy process; its config lands in <state_dir>/envoy/."""
    return envoy_process_for(compiled_config(k8s_dir, instances, ports, state_dir, tls), ports, state_dir)


def compiled_config(
    k8s_dir: Path, instances: list[Instance], ports: Ports, state_dir: Path, tls: bool, access_log: bool = True
) -> dict:
    """k8s/ compiled into Envoy's configuration for these local processes; with an access log, or without."""
    envoy_dir = state_dir / "envoy"
    envoy_dir.mkdir(parents=True, exist_ok=True)
    try:
        # The routing resources need no real secret: render with the committed example.
        mesh = parse_mesh(render(k8s_dir, example_secrets=True))
    except (RenderError, CompileError) as error:
        raise MeshError(f"cannot build the mesh from {k8s_dir}: {error}") from None
    topology = Topology(
        workloads=[Workload({"app": i.service, "version": i.version}, "127.0.0.1", i.port) for i in instances],
        ingress_port=ports.ingress,
        admin_port=ports.envoy_admin,
        # One listener per calling version, whichever of its replicas calls.
        sidecars=[
            Sidecar({"app": "app-service", "version": version}, "model-service", ports.sidecars[version])
            for version in dict.fromkeys(i.version for i in instances if i.service == "app-service")
        ],
        tls=self_signed([FRONTEND_HOST, API_HOST, *PUBLIC_HOSTS.values()], envoy_dir / "tls") if tls else None,
        tls_port=ports.ingress_tls if tls else None,
        # Every request with Envoy's response flags (e.g. UC, UF, UO, RL): the first place to look.
        access_log=access_log_path(state_dir) if access_log else None,
        inbound=[
            # Every service's sidecar: mTLS in front of each, and its AuthorizationPolicy if it has one.
            Inbound({"app": i.service, "version": i.version}, ports.inbound[i.port], i.port)
            for i in instances
        ],
        mesh_tls=_mesh_tls(mesh, state_dir),
    )
    try:
        return compile_mesh(mesh, topology)
    except CompileError as error:
        raise MeshError(f"cannot build the mesh from {k8s_dir}: {error}") from None


def envoy_process_for(config: dict, ports: Ports, state_dir: Path) -> Process:
    """Write and validate `config`, and describe the Envoy process that runs it."""
    path = state_dir / "envoy" / "envoy.yaml"
    path.write_text(to_yaml(config))
    check = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True)
    if check.returncode != 0:
        raise MeshError(f"envoy refuses {path}: {check.stderr.strip().splitlines()[-1]}")
    return Process(
        name="envoy",
        # No hot restart: several Envoys (make run, tests) may run side by side.
        command=[str(ENVOY), "-c", str(path), "--disable-hot-restart", "--log-level", "warning"],
        env={},
        ready_url=f"http://127.0.0.1:{ports.envoy_admin}/ready",
    )
