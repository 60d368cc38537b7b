"""Probes, metrics and settings of the app-frontend."""

import pytest
from app_frontend.settings import Settings
from pydantic import ValidationError


def test_alive_and_ready_once_it_answers(client):
    assert client.get("/healthz").json() == {"status": "ok", "detail": ""}
    assert client.get("/readyz").json() == {"status": "ready", "detail": ""}


def test_page_views_are_counted_by_version_and_static_files_are_not(make_client):
    client = make_client(app_version="canary")
    client.get("/")
    client.get("/")
    client.get("/static/app.css")

    text = client.get("/metrics").text

    assert 'page_views_total{version="canary"} 2.0' in text
    assert 'http_requests_total{method="GET",route="/",status="200",version="canary"} 2.0' in text
    assert 'http_requests_total{method="GET",route="/static/{name}",status="200",version="canary"} 1.0' in text


def test_page_views_start_at_zero_beside_the_running_release(client):
    text = client.get("/metrics").text

    assert 'page_views_total{version="stable"} 0.0' in text
    assert 'app_info{release="1.0.0",version="stable"} 1.0' in text


def test_the_api_origin_for_the_security_policy_drops_default_ports_and_paths():
    assert Settings(app_service_public_url="https://api.test:443/base/").api_origin == "https://api.test"
    assert Settings(app_service_public_url="http://127.0.0.1:8201").api_origin == "http://127.0.0.1:8201"
    assert Settings(app_service_public_url="http://api.test/base/").api_url == "http://api.test/base"


@pytest.mark.parametrize("overrides", [{"app_version": "beta"}, {"app_service_public_url": "not a url"}, {"port": 0}])
def test_invalid_settings_are_refused(overrides):
    with pytest.raises(ValidationError):
        Settings(**overrides)
