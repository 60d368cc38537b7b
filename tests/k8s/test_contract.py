"""The facts the checks hold the manifests to (sentiment_devtools.checks.contract, .system) are the
services' own: each service version starts with the configuration the
manifests give it and serves the paths its probes ask."""

import importlib
import typing
from pathlib import Path, PurePosixPath

import pytest
from fastapi.testclient import TestClient
from sentiment_devtools import system
from sentiment_devtools.checks import contract
from sentiment_devtools.manifests.model import Manifests


def service_module(service: str, module: str):
    return importlib.import_module(f"{service.replace('-', '_')}.{module}")


@pytest.mark.parametrize("service", system.SERVICES)
def test_each_version_starts_with_its_manifest_settings_and_serves_the_probed_paths(service, rendered, monkeypatch):
    m = Manifests(rendered)
    workloads = m.app_workloads((service,))
    assert {workload.pod_labels["version"] for workload in workloads} == set(system.ARMS)
    for workload in workloads:
        env = m.environment(workload, workload.containers[0])
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            settings = service_module(service, "settings").Settings()
        assert settings.app_version == workload.pod_labels["version"]
        assert settings.port == system.CONTAINER_PORT

        # Without its lifespan the app loads and connects nothing; a 503 or 500 still means "served here".
        client = TestClient(service_module(service, "app").create_app(settings), raise_server_exceptions=False)
        for path in (contract.LIVENESS_PATH, contract.READINESS_PATH, contract.METRICS_PATH):
            assert client.get(path).status_code != 404, f"{service} does not serve {path}"


def test_the_model_service_caches_and_downloads_where_the_contract_says():
    settings = service_module("model-service", "settings")
    source = settings.Settings.model_fields["model_source"]
    assert settings.Settings.model_fields["model_cache_dir"].default == Path(contract.MODEL_CACHE_DIR_DEFAULT)
    assert settings.DEFAULT_URL_TEMPLATE == contract.MODEL_URL_TEMPLATE_DEFAULT
    assert source.default == contract.MODEL_SOURCE_DEFAULT
    assert typing.get_args(source.annotation) == contract.MODEL_SOURCES
    assert service_module("model-service", "training.dataset").DEFAULT_DATA_URL == contract.TRAINING_DATA_URL_DEFAULT
    assert {name.upper() for name in settings.Settings.model_fields if name.startswith("model_")} >= set(
        contract.MODEL_SETTINGS
    )


def test_each_model_service_prepares_with_its_init_container_the_model_its_server_serves(rendered, monkeypatch):
    m = Manifests(rendered)
    for workload in m.app_workloads(("model-service",)):
        (preparer,) = workload.init_containers
        named = []
        for container in (preparer, *workload.containers):
            with monkeypatch.context() as patch:
                for name, value in m.environment(workload, container).items():
                    patch.setenv(name, value)
                settings = service_module("model-service", "settings").Settings()
            named.append((settings.model_source, settings.model_version, settings.pinned_sha256, settings.trained_dir))
        assert named[0] == named[1]
        assert tuple(preparer["command"]) == contract.PREPARE_COMMAND


def test_what_each_readyz_waits_for_at_most_is_the_services_own_setting():
    for service, (setting, default) in contract.READINESS_WAITS.items():
        field = service_module(service, "settings").Settings.model_fields[setting.lower()]
        assert field.default == default, (
            f"{service}: {setting} defaults to {field.default}, the contract says {default}"
        )


def test_the_app_service_keeps_its_database_in_the_folder_the_contract_derives():
    url = "sqlite:////var/lib/app-service/reviews.db"
    settings = service_module("app-service", "settings").Settings(database_url=url)
    folder = contract.data_folders("app-service", {"DATABASE_URL": url})["DATABASE_URL"]
    assert PurePosixPath(settings.database_path).parent == PurePosixPath(folder)
