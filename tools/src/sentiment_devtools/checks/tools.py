"""Prometheus' and Alertmanager's own tools on what the manifests configure: `promtool check rules` on every
PrometheusRule, `amtool check-config` on the alertmanager.yml the operator would generate."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from sentiment_devtools.manifests.alertmanager import ConversionError, alertmanager_config
from sentiment_devtools.manifests.model import Manifests, ref

# Debian package of each tool; `make system-deps` installs them.
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


class ToolMissing(Exception):
    pass


def run_tool(tool: str, *args: str | Path) -> subprocess.CompletedProcess:
    executable = shutil.which(tool)
    if executable is None:
        raise ToolMissing(f"{tool} not found: install the Debian package {PACKAGES[tool]} (`make system-deps`)")
    return subprocess.run([executable, *map(str, args)], capture_output=True, text=True, check=False)


def rule_problems(m: Manifests) -> list[str]:
    """What `promtool check rules` says about each PrometheusRule's groups, as the operator would load them."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="checks-rules-") as tmp:
        for rule_set in m.of_kind("PrometheusRule"):
            rules_file = Path(tmp) / f"{rule_set['metadata']['name']}.yaml"
            rules_file.write_text(yaml.safe_dump({"groups": rule_set["spec"]["groups"]}))
            result = run_tool("promtool", "check", "rules", rules_file)
            if result.returncode != 0:
                output = (result.stdout + result.stderr).replace(str(rules_file), ref(rule_set)).strip()
                problems.append(f"{ref(rule_set)}: promtool check rules failed:\n{output}")
    return problems


def alertmanager_problems(m: Manifests) -> list[str]:
    """What `amtool check-config` says about the generated alertmanager.yml."""
    try:
        config = alertmanager_config(m)
    except ConversionError as error:
        return [str(error)]
    with tempfile.TemporaryDirectory(prefix="checks-alertmanager-") as tmp:
        config_file = Path(tmp) / "alertmanager.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        result = run_tool("amtool", "check-config", config_file)
    if result.returncode != 0:
        names = ", ".join(ref(config) for config in m.of_kind("AlertmanagerConfig"))
        output = (result.stdout + result.stderr).replace(f"'{config_file}'", "alertmanager.yml").strip()
        return [f"{names}: amtool check-config rejects the generated alertmanager.yml:\n{output}"]
    return []
