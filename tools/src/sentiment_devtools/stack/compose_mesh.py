"""`make compose-mesh`: the same Envoy configuration for the containers of docker compose.

docker-compose.mesh.yml adds the canary of every service and an Envoy to the
compose setup. This writes that Envoy's configuration, compiled from k8s/ like
`make run`'s, for the containers' names: each service version is a compose
service listening on 8000, and each app-service calls the model-service through
its own listener on Envoy (15001 for stable, 15002 for canary).
"""

import argparse
from pathlib import Path

from sentiment_devtools.manifests.render import render
from sentiment_devtools.mesh.envoy import compile_mesh, to_yaml
from sentiment_devtools.mesh.parse import parse_mesh
from sentiment_devtools.mesh.topology import Sidecar, Topology, Workload
from sentiment_devtools.system import (
    ARMS,
    COMPOSE_SIDECAR_PORTS,
    CONTAINER_PORT,
    LOCAL_ENVOY_ADMIN_PORT,
    LOCAL_INGRESS_PORT,
    SERVICES,
    STABLE,
)


def compose_topology() -> Topology:
    return Topology(
        workloads=[
            Workload({"app": service, "version": version}, container_name(service, version), CONTAINER_PORT)
            for service in SERVICES
            for version in ARMS
        ],
        ingress_port=LOCAL_INGRESS_PORT,
        admin_port=LOCAL_ENVOY_ADMIN_PORT,
        sidecars=[
            Sidecar({"app": "app-service", "version": v}, "model-service", COMPOSE_SIDECAR_PORTS[v]) for v in ARMS
        ],
        # Inside its container Envoy listens on every interface; compose publishes only 127.0.0.1.
        bind_address="0.0.0.0",
    )


def container_name(service: str, version: str) -> str:
    """The stable containers keep the names of docker-compose.yml; the canaries add a suffix."""
    return service if version == STABLE else f"{service}-{version}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="compose_mesh", description=__doc__.splitlines()[0])
    parser.add_argument("--k8s-dir", type=Path, default=Path("k8s"))
    parser.add_argument("--out", type=Path, default=Path("var/compose-mesh/envoy.yaml"))
    arguments = parser.parse_args()
    config = compile_mesh(parse_mesh(render(arguments.k8s_dir, example_secrets=True)), compose_topology())
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(to_yaml(config))
    print(f"wrote {arguments.out}: docker compose -f docker-compose.yml -f docker-compose.mesh.yml up --build")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
