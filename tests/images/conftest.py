"""Fixtures of the image tests: the three images, built by `make images`, running as containers on 127.0.0.1."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sentiment_devtools.images.cli import SERVICES, image_name
from sentiment_devtools.images.podman import Podman
from support.containers import TIMINGS, Container, volume
from support.services import EXPORT_KEY, Release, free_port, train_demo_release


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
        TIMINGS["model-service, podman run to /readyz 200"] = running["model-service"].wait_until("/readyz")
        running["app-service"] = Container(
            podman,
            image_name("app-service"),
            {"APP_VERSION": "stable", "MODEL_SERVICE_URL": running["model-service"].url, "EXPORT_API_KEY": EXPORT_KEY,
             "CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{frontend_port}"},
            {volumes["app-data"]: "/var/lib/app-service"},
        )  # fmt: skip
        TIMINGS["app-service, podman run to /readyz 200"] = running["app-service"].wait_until("/readyz")
        running["app-frontend"] = Container(
            podman,
            image_name("app-frontend"),
            {"APP_VERSION": "stable", "APP_SERVICE_PUBLIC_URL": running["app-service"].url},
            {},
            port=frontend_port,
        )
        TIMINGS["app-frontend, podman run to /readyz 200"] = running["app-frontend"].wait_until("/readyz")
        yield running
    finally:
        for container in running.values():
            container.remove()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("images: seconds")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"  {what:<64} {seconds:6.1f}")
