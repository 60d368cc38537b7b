"""The settings every service has, and the one line a wrong one stops it with."""

import pytest
from pydantic import ValidationError
from service_kit.settings import ServiceSettings, settings_or_exit


def test_the_defaults_are_the_stable_arm_on_loopback_port_8000():
    settings = ServiceSettings()

    assert (settings.app_version, settings.host, settings.port, settings.log_level) == (
        "stable", "127.0.0.1", 8000, "info",
    )  # fmt: skip


@pytest.mark.parametrize("overrides", [{"app_version": "beta"}, {"port": 0}, {"port": 65536}, {"log_level": "loud"}])
def test_invalid_settings_are_refused(overrides):
    with pytest.raises(ValidationError):
        ServiceSettings(**overrides)


def test_a_wrong_setting_stops_the_service_with_one_line_naming_it_and_exit_code_2(monkeypatch, capsys):
    monkeypatch.setenv("APP_VERSION", "beta")

    with pytest.raises(SystemExit) as stopped:
        settings_or_exit(ServiceSettings, "demo-service")

    assert stopped.value.code == 2
    assert (
        capsys.readouterr().err == "demo-service: invalid setting APP_VERSION: Input should be 'stable' or 'canary'\n"
    )
