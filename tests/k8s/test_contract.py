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


# Where the services keep data, moved to the test's folder: the manifests' own are volumes of the pod.
DATA_SETTINGS = {"app-service": "DATABASE_URL", "model-service": "MODEL_CACHE_DIR"}


@pytest.mark.parametrize("service", system.SERVICES)
def test_each_version_starts_with_its_manifest_settings_and_serves_the_probed_paths(
    service, rendered, monkeypatch, tmp_path
):
    m = Manifests(rendered)
    workloads = m.app_workloads((service,))
    assert {workload.pod_labels["version"] for workload in workloads} == set(system.ARMS)
    for workload in workloads:
        env = m.environment(workload, workload.containers[0])
        data = tmp_path / workload.pod_labels["version"]
        moved = {"DATABASE_URL": f"sqlite:///{data / 'reviews.db'}", "MODEL_CACHE_DIR": str(data)}
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            settings = service_module(service, "settings").Settings()
            if service in DATA_SETTINGS:
                patch.setenv(DATA_SETTINGS[service], moved[DATA_SETTINGS[service]])
            started = service_module(service, "settings").Settings()
        assert settings.app_version == workload.pod_labels["version"]
        assert settings.port == system.CONTAINER_PORT

        # Started as the pod starts it (its lifespan: store, model loader, clients), with its data in a temporary
        # folder and nothing else to reach: alive, its metrics served, and ready or saying why not, never a 500.
        with TestClient(service_module(service, "app").create_app(started), raise_server_exceptions=False) as client:
            liveness, metrics = client.get(contract.LIVENESS_PATH), client.get(contract.METRICS_PATH)
            readiness = client.get(contract.READINESS_PATH)
        assert liveness.status_code == 200, f"{service} {contract.LIVENESS_PATH}: {liveness.status_code}"
        assert metrics.status_code == 200, f"{service} {contract.METRICS_PATH}: {metrics.status_code}"
        assert f'version="{settings.app_version}"' in metrics.text
        assert readiness.status_code in (200, 503), f"{service} {contract.READINESS_PATH}: {readiness.text}"
        assert readiness.json()["status"] == ("ready" if readiness.status_code == 200 else "not ready"), readiness.text


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
