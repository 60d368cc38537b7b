"""The AlertmanagerConfig becomes the alertmanager.yml the prometheus-operator
would generate, and Alertmanager's own tool accepts it."""

import pytest
import yaml
from sentiment_devtools.checks.tools import alertmanager_problems, run_tool
from sentiment_devtools.manifests.alertmanager import ConversionError, alertmanager_config
from sentiment_devtools.manifests.model import Manifests


def test_alerts_of_the_namespace_go_to_the_team_by_e_mail(rendered):
    config = alertmanager_config(Manifests(rendered))

    root = config["route"]
    assert root["receiver"] == "null"
    [route] = root["routes"]
    assert route["receiver"] == "sentiment/sentiment-canary/team-email"
    assert route["matchers"] == ['namespace="sentiment"']
    assert route["continue"] is True
    assert route["group_by"] == ["alertname", "version"]
    [_, team] = config["receivers"]
    assert team["name"] == "sentiment/sentiment-canary/team-email"
    [email] = team["email_configs"]
    assert email["to"] == "sentiment-canary-team@example.com"
    assert email["smarthost"] == "smtp.example.com:587"
    assert email["auth_password"] == "change-me"  # from the example env file, through the rendered Secret
    assert email["send_resolved"] is True


def test_amtool_accepts_the_generated_configuration(rendered, tmp_path):
    assert alertmanager_problems(Manifests(rendered)) == []
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(alertmanager_config(Manifests(rendered))))
    result = run_tool("amtool", "check-config", config_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " - 2 receivers" in result.stdout


def test_nested_routes_and_matchers_keep_their_meaning(documents):
    [config] = [d for d in documents if d["kind"] == "AlertmanagerConfig"]
    config["spec"]["route"]["routes"] = [
        {
            "receiver": "team-email",
            "matchers": [{"name": "severity", "value": "critical|page", "matchType": "=~"}],
            "repeatInterval": "1h",
        }
    ]
    [route] = alertmanager_config(Manifests(documents))["route"]["routes"]
    assert route["routes"] == [
        {
            "receiver": "sentiment/sentiment-canary/team-email",
            "repeat_interval": "1h",
            "matchers": ['severity=~"critical|page"'],
        }
    ]


def test_a_field_the_converter_does_not_know_is_refused_not_dropped(documents):
    [config] = [d for d in documents if d["kind"] == "AlertmanagerConfig"]
    config["spec"]["receivers"][0]["slackConfigs"] = [{"channel": "#alerts"}]
    with pytest.raises(
        ConversionError, match=r"slackConfigs not supported by sentiment_devtools\.manifests\.alertmanager"
    ):
        alertmanager_config(Manifests(documents))
