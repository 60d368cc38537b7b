"""The facts k8scheck holds the manifests to (k8scheck.contract) are the
services' own: each service version starts with the configuration the
manifests give it and serves the paths its probes ask."""

import importlib
from pathlib import Path, PurePosixPath

import pytest
from fastapi.testclient import TestClient
from k8scheck import contract
from k8scheck.manifests import Manifests


def service_module(service: str, module: str):
    return importlib.import_module(f"{service.replace('-', '_')}.{module}")


@pytest.mark.parametrize("service", contract.SERVICES)
def test_each_version_starts_with_its_manifest_settings_and_serves_the_probed_paths(service, rendered, monkeypatch):
    m = Manifests(rendered)
    workloads = m.app_workloads((service,))
    assert {workload.pod_labels["version"] for workload in workloads} == set(contract.VERSIONS)
    for workload in workloads:
        env = m.environment(workload, workload.containers[0])
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            settings = service_module(service, "settings").Settings()
        assert settings.app_version == workload.pod_labels["version"]
        assert settings.port == contract.CONTAINER_PORT

        # Without its lifespan the app loads and connects nothing; a 503 or 500 still means "served here".
        client = TestClient(service_module(service, "app").create_app(settings), raise_server_exceptions=False)
        for path in (contract.LIVENESS_PATH, contract.READINESS_PATH, contract.METRICS_PATH):
            assert client.get(path).status_code != 404, f"{service} does not serve {path}"


def test_the_model_service_caches_and_downloads_where_the_contract_says():
    settings = service_module("model-service", "settings")
    assert settings.Settings.model_fields["model_cache_dir"].default == Path(contract.MODEL_CACHE_DIR_DEFAULT)
    assert settings.DEFAULT_URL_TEMPLATE == contract.MODEL_URL_TEMPLATE_DEFAULT


def test_the_app_service_keeps_its_database_in_the_folder_the_contract_derives():
    url = "sqlite:////var/lib/app-service/reviews.db"
    settings = service_module("app-service", "settings").Settings(database_url=url)
    folder = contract.data_folders("app-service", {"DATABASE_URL": url})["DATABASE_URL"]
    assert PurePosixPath(settings.database_path).parent == PurePosixPath(folder)
