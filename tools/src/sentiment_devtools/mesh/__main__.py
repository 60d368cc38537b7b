"""`python -m sentiment_devtools.mesh`: compile rendered manifests and a topology into an Envoy config.

kubectl kustomize k8s/ | python -m sentiment_devtools.mesh --topology topology.json > envoy.yaml
"""

import argparse
import sys
from pathlib import Path

import yaml

from sentiment_devtools.mesh.envoy import compile_mesh, to_yaml
from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.parse import parse_mesh
from sentiment_devtools.mesh.topology import Topology


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_devtools.mesh", description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", type=Path, help="rendered manifests (default: standard input)")
    parser.add_argument(
        "--topology", type=Path, required=True, help="JSON: workloads, ports, sidecars, tls, inbound, mesh_tls"
    )
    arguments = parser.parse_args()
    text = arguments.manifests.read_text() if arguments.manifests else sys.stdin.read()
    try:
        config = compile_mesh(parse_mesh(load_documents(text)), Topology.from_json(arguments.topology))
    except CompileError as error:
        print(f"mesh: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(to_yaml(config))
    return 0


def load_documents(text: str) -> list[dict]:
    return [document for document in yaml.safe_load_all(text) if document]


if __name__ == "__main__":
    raise SystemExit(main())
