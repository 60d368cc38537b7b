"""`python -m localmesh`: compile rendered manifests and a topology into an Envoy config.

kubectl kustomize k8s/ | python -m localmesh --topology topology.json > envoy.yaml
"""

import argparse
import sys
from pathlib import Path

import yaml

from localmesh.envoy import compile_mesh, to_yaml
from localmesh.errors import CompileError
from localmesh.parse import parse_mesh
from localmesh.topology import Topology


def main() -> int:
    parser = argparse.ArgumentParser(prog="localmesh", description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", type=Path, help="rendered manifests (default: standard input)")
    parser.add_argument("--topology", type=Path, required=True, help="JSON: workloads, ports, sidecars, tls")
    arguments = parser.parse_args()
    text = arguments.manifests.read_text() if arguments.manifests else sys.stdin.read()
    try:
        config = compile_mesh(parse_mesh(load_documents(text)), Topology.from_json(arguments.topology))
    except CompileError as error:
        print(f"localmesh: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(to_yaml(config))
    return 0


def load_documents(text: str) -> list[dict]:
    return [document for document in yaml.safe_load_all(text) if document]


if __name__ == "__main__":
    raise SystemExit(main())
