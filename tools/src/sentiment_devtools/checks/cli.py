"""python -m sentiment_devtools.checks K8S_DIR: render the manifests and run every check on them."""

import argparse
import os
import sys
from pathlib import Path

from sentiment_devtools.checks.schemas import KUBERNETES_VERSION, OLDEST_ISTIO, SchemaValidator
from sentiment_devtools.checks.suite import CHECKS, all_problems
from sentiment_devtools.checks.tools import ToolMissing
from sentiment_devtools.manifests.render import RenderError, render

# CI and every developer machine have the CRD schemas beside the project.
DEFAULT_SCHEMAS = os.environ.get("K8S_SCHEMAS_DIR", "../shared/schemas")
DEFAULT_OLDEST_ISTIO_SCHEMAS = os.environ.get("K8S_SCHEMAS_ISTIO_1_26_DIR", "../shared/schemas-istio-1.26")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_devtools.checks", description=__doc__)
    parser.add_argument("k8s_dir", type=Path, help="the kustomization to check, e.g. k8s/")
    parser.add_argument(
        "--schemas",
        type=Path,
        default=Path(DEFAULT_SCHEMAS),
        help="folder of the CRD JSON schemas (default: $K8S_SCHEMAS_DIR or ../shared/schemas)",
    )
    parser.add_argument(
        "--oldest-istio-schemas",
        type=Path,
        default=Path(DEFAULT_OLDEST_ISTIO_SCHEMAS),
        help=f"folder of Istio {OLDEST_ISTIO}'s CRD schemas, the oldest Istio supported, which the Istio resources "
        "must validate against too (default: $K8S_SCHEMAS_ISTIO_1_26_DIR or ../shared/schemas-istio-1.26)",
    )
    parser.add_argument(
        "--kubernetes-version",
        default=KUBERNETES_VERSION,
        help=f"validate built-in kinds against this release (default {KUBERNETES_VERSION})",
    )
    parser.add_argument(
        "--with",
        dest="components",
        action="append",
        default=[],
        metavar="COMPONENT",
        help="also enable this optional component, e.g. components/local-storage",
    )
    parser.add_argument(
        "--example-secrets",
        action="store_true",
        help="render with the committed secrets/*.env.example files, as CI does",
    )
    args = parser.parse_args(argv)

    variant = " + ".join([str(args.k8s_dir), *args.components])
    try:
        validator = SchemaValidator(
            args.schemas, args.kubernetes_version, also={f"Istio {OLDEST_ISTIO}": args.oldest_istio_schemas}
        )
        documents = render(args.k8s_dir, components=tuple(args.components), example_secrets=args.example_secrets)
        problems = all_problems(documents, validator)
    except (FileNotFoundError, RenderError, ToolMissing) as error:
        print(f"checks: {variant}: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"checks: {problem}", file=sys.stderr)
    print(
        f"checks: {variant}: {len(documents)} documents, {len(problems)} problems "
        f"(Kubernetes {args.kubernetes_version} schemas, the newest and Istio {OLDEST_ISTIO}'s CRD schemas, "
        f"{len(CHECKS)} semantic checks, promtool, amtool)"
    )
    return 1 if problems else 0
