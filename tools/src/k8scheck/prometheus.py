"""PrometheusRule resources, checked by Prometheus' own parser (promtool)."""

import tempfile
from pathlib import Path

import yaml

from k8scheck.manifests import Manifests, ref
from k8scheck.tools import run_tool


def rule_problems(m: Manifests) -> list[str]:
    """What `promtool check rules` says about each PrometheusRule's groups, as the operator would load them."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="k8scheck-rules-") as tmp:
        for rule_set in m.of_kind("PrometheusRule"):
            rules_file = Path(tmp) / f"{rule_set['metadata']['name']}.yaml"
            rules_file.write_text(yaml.safe_dump({"groups": rule_set["spec"]["groups"]}))
            result = run_tool("promtool", "check", "rules", rules_file)
            if result.returncode != 0:
                output = (result.stdout + result.stderr).replace(str(rules_file), ref(rule_set)).strip()
                problems.append(f"{ref(rule_set)}: promtool check rules failed:\n{output}")
    return problems
