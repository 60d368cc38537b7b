"""Fixtures of the image tests: the three images, built by `make images`, running as containers on 127.0.0.1."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from localimages.cli import SERVICES, image_name
from localimages.podman import Podman
from support.containers import IMAGE_USER, Container
from support.services import EXPORT_KEY, Release, free_port, train_demo_release

READY_SECONDS: dict[str, float] = {}  # how long each container took to answer /readyz, for the summary


@pytest.fixture(scope="session")
def podman() -> Podman:
    podman = Podman()
    missing = [image_name(service) for service in SERVICES if not podman.image_exists(image_name(service))]
    if missing:
        pytest.fail(f"no image {', '.join(missing)}: build them with `make images` (make images-test does)")
    return podman


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """A real release from the training CLI, readable by the image's user through a read-only mount."""
    release = train_demo_release(tmp_path_factory.mktemp("releases"))
    for path in (release.folder, *release.folder.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return release


def volume(path: Path) -> Path:
    """A folder for a data volume, owned by the image's user as the deployment docs ask of a hostPath volume."""
    path.mkdir()
    os.chown(path, IMAGE_USER, IMAGE_USER)
    return path


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("volumes")
    return {"model-cache": volume(root / "model-cache"), "app-data": volume(root / "app-data")}


@pytest.fixture(scope="module")
def containers(podman: Podman, release: Release, volumes: dict[str, Path]) -> Iterator[dict[str, Container]]:
    """The stable arm's three containers, wired as the browser and the mesh would wire them, each started
    once the one it calls is ready (so each start-up is timed alone)."""
    running: dict[str, Container] = {}
    frontend_port = free_port()  # its origin is the one the app-service allows
    try:
        running["model-service"] = Container(
            podman,
            image_name("model-service"),
            {"APP_VERSION": "stable", "MODEL_VERSION": release.version, "MODEL_SHA256": release.sha256,
             "MODEL_URL_TEMPLATE": "file:///releases/{version}/{asset}"},
            {release.folder: "/releases:ro", volumes["model-cache"]: "/var/cache/model-service"},
        )  # fmt: skip
        READY_SECONDS["model-service"] = running["model-service"].wait_until("/readyz")
        running["app-service"] = Container(
            podman,
            image_name("app-service"),
            {"APP_VERSION": "stable", "MODEL_SERVICE_URL": running["model-service"].url, "EXPORT_API_KEY": EXPORT_KEY,
             "CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{frontend_port}"},
            {volumes["app-data"]: "/var/lib/app-service"},
        )  # fmt: skip
        READY_SECONDS["app-service"] = running["app-service"].wait_until("/readyz")
        running["app-frontend"] = Container(
            podman,
            image_name("app-frontend"),
            {"APP_VERSION": "stable", "APP_SERVICE_PUBLIC_URL": running["app-service"].url},
            {},
            port=frontend_port,
        )
        READY_SECONDS["app-frontend"] = running["app-frontend"].wait_until("/readyz")
        yield running
    finally:
        for container in running.values():
            container.remove()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if READY_SECONDS:
        terminalreporter.section("images: seconds from `podman run` to /readyz 200")
        for service, seconds in READY_SECONDS.items():
            terminalreporter.write_line(f"  {service:<16} {seconds:6.1f}")
