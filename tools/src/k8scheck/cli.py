"""python -m k8scheck K8S_DIR: render the manifests and run every check on them."""

import argparse
import os
import sys
from pathlib import Path

from k8scheck import alertmanager, checks, prometheus
from k8scheck.manifests import Manifests
from k8scheck.render import RenderError, render
from k8scheck.schemas import KUBERNETES_VERSION, SchemaValidator
from k8scheck.tools import ToolMissing

# CI and every developer machine have the CRD schemas beside the project.
DEFAULT_SCHEMAS = os.environ.get("K8S_SCHEMAS_DIR", "../shared/schemas")


def all_problems(documents: list[dict], validator: SchemaValidator, canary_weight: int) -> list[str]:
    """Every check on rendered documents: schemas, semantics, promtool, amtool."""
    m = Manifests(documents)
    problems = [problem for document in documents for problem in validator.problems(document)]
    for check in checks.CHECKS:
        problems += check(m)
    problems += checks.canary_weights(m, canary_weight)
    problems += prometheus.rule_problems(m)
    problems += alertmanager.config_problems(m)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k8scheck", description=__doc__)
    parser.add_argument("k8s_dir", type=Path, help="the kustomization to check, e.g. k8s/")
    parser.add_argument(
        "--schemas",
        type=Path,
        default=Path(DEFAULT_SCHEMAS),
        help="folder of the CRD JSON schemas (default: $K8S_SCHEMAS_DIR or ../shared/schemas)",
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
    parser.add_argument(
        "--canary-weight",
        type=int,
        default=checks.CANARY_WEIGHT,
        help=f"the canary's documented share of new visitors (default {checks.CANARY_WEIGHT})",
    )
    args = parser.parse_args(argv)

    variant = " + ".join([str(args.k8s_dir), *args.components])
    try:
        validator = SchemaValidator(args.schemas, args.kubernetes_version)
        documents = render(args.k8s_dir, components=tuple(args.components), example_secrets=args.example_secrets)
        problems = all_problems(documents, validator, args.canary_weight)
    except (FileNotFoundError, RenderError, ToolMissing) as error:
        print(f"k8scheck: {variant}: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"k8scheck: {problem}", file=sys.stderr)
    print(
        f"k8scheck: {variant}: {len(documents)} documents, {len(problems)} problems "
        f"(Kubernetes {args.kubernetes_version} schemas, {len(checks.CHECKS) + 1} semantic checks, promtool, amtool)"
    )
    return 1 if problems else 0
