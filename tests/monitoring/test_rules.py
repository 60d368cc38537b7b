"""The PrometheusRule's recording and alerting rules, proven by `promtool test rules`."""

import shutil
from pathlib import Path

import pytest
import yaml
from sentiment_devtools.checks.tools import run_tool
from sentiment_devtools.stack.monitoring.config import rule_groups

TESTS = Path(__file__).with_name("prometheus-rule.test.yaml")


@pytest.fixture(scope="module")
def rules(documents) -> dict:
    return rule_groups(documents)


def test_promtool_passes_every_rule_test(rules, tmp_path):
    # Given the PrometheusRule's groups as the plain rules file its tests name
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    shutil.copy(TESTS, tmp_path)

    # When promtool runs the tests
    result = run_tool("promtool", "test", "rules", tmp_path / TESTS.name)

    # Then every one passes
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_recording_rule_is_tested(rules):
    records = {rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}
    tested = " ".join(expr["expr"] for test in _tests() for expr in test.get("promql_expr_test", []))

    assert records
    assert {record for record in records if record not in tested} == set()


def test_every_alert_is_tested_firing_and_not_firing(rules):
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    cases = [case for test in _tests() for case in test.get("alert_rule_test", [])]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}

    assert alerts
    assert alerts - firing == set(), "never tested firing"
    assert alerts - silent == set(), "never tested not firing"


def _tests() -> list[dict]:
    return yaml.safe_load(TESTS.read_text())["tests"]
