"""One shape for the three services: the kit's middlewares in one order, one way to refuse a wrong
setting, and one way to stop (libs/service-kit)."""

import importlib
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from service_kit.body_limit import BodySizeLimitMiddleware
from service_kit.invalid_input import invalid_input
from service_kit.metrics import RequestMetricsMiddleware
from service_kit.serve import SHUTDOWN_GRACE_SECONDS
from service_kit.served_by import ServedByMiddleware
from support.services import ProcessGroup, ServiceProcess, serve_refused
from support.waiting import wait_until

PACKAGES = ("model_service", "app_service", "app_frontend")
# Outermost first, as service_kit.app puts them; CORS and the body limit only where a service needs them.
KIT_ORDER = (ServedByMiddleware, RequestMetricsMiddleware, CORSMiddleware, BodySizeLimitMiddleware)
# Settings each service starts with here, without a model to serve or a database to keep.
START_ENV = {
    "model_service": {"MODEL_SOURCE": "trained"},
    "app_service": {"MODEL_SERVICE_URL": "http://127.0.0.1:9"},
    "app_frontend": {},
}
# A route that reads a JSON body, where a client may stall halfway (the frontend reads no body).
BODY_ROUTES = {"model_service": "/v1/predict", "app_service": "/api/v1/sentiment"}
# uvicorn shuts down, then re-raises the signal it caught: the exit status says who stopped the process.
STOPPED_BY_SIGTERM = -signal.SIGTERM


def create_app(package: str, tmp_path: Path):
    settings = importlib.import_module(f"{package}.settings").Settings(
        **{"model_service": {"model_source": "trained", "model_cache_dir": tmp_path}, "app_service": {}}.get(
            package, {}
        )
    )
    return importlib.import_module(f"{package}.app").create_app(settings)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_service_runs_the_kits_middlewares_in_the_kits_order_and_answers_a_422_alike(package, tmp_path):
    app = create_app(package, tmp_path)

    order = tuple(middleware.cls for middleware in app.user_middleware)

    assert order == tuple(cls for cls in KIT_ORDER if cls in order), order
    assert order[:2] == (ServedByMiddleware, RequestMetricsMiddleware)
    assert app.exception_handlers[RequestValidationError] is invalid_input


@pytest.mark.parametrize(
    ("package", "env", "line"),
    [
        ("model_service", {"MODEL_SHA256": "not-a-digest"}, "model-service: invalid setting MODEL_SHA256:"),
        ("app_service", {"DATABASE_URL": "mysql://db/reviews"}, "app-service: invalid setting DATABASE_URL:"),
        ("app_frontend", {"SET_VERSION_COOKIE": "perhaps"}, "app-frontend: invalid setting SET_VERSION_COOKIE:"),
        ("app_frontend", {"APP_VERSION": "beta"}, "app-frontend: invalid setting APP_VERSION:"),
    ],
)
def test_a_wrong_setting_stops_every_service_with_one_line_naming_it_and_exit_code_2(package, env, line):
    result = serve_refused(package, env)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(line), result.stderr


def server_side_unread_bytes(port: int, client_port: int) -> int:
    """The bytes of a connection the server has not read yet, as the kernel counts them (/proc/net/tcp)."""
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, _, queues = row.split()[1:5]
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port:
            return int(queues.split(":")[1], 16)
    raise AssertionError(f"no connection from port {client_port} to {port}")


@pytest.fixture
def group(tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(tmp_path)
    yield group
    group.stop_all()


def start(group: ProcessGroup, package: str, tmp_path: Path) -> ServiceProcess:
    env = {
        **START_ENV[package],
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/r.db",
    }
    process = group.launch(package, **env)
    process.wait_until("/healthz")
    return process


def stop_and_wait(process: ServiceProcess) -> int:
    process.send_signal(signal.SIGTERM)
    return wait_until(
        process.exit_code,
        lambda code: code is not None,
        what=f"{process.package} to exit after SIGTERM",
        timeout=SHUTDOWN_GRACE_SECONDS + 30,
        context=lambda: f"log:\n{process.log()}",
    )


@pytest.mark.slow
@pytest.mark.parametrize("package", PACKAGES)
def test_on_sigterm_every_service_closes_its_idle_connections_and_runs_its_lifespans_end(package, group, tmp_path):
    process = start(group, package, tmp_path)
    with socket.create_connection(("127.0.0.1", process.port), timeout=10) as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        answer = idle.recv(65_536)
        while not answer.endswith(b'"detail":""}') and (more := idle.recv(65_536)):  # head and body: two reads?
            answer += more
        assert answer.startswith(b"HTTP/1.1 200 ")  # a keep-alive connection, left open

        code = stop_and_wait(process)

        assert code == STOPPED_BY_SIGTERM, process.log()
        assert idle.recv(65_536) == b"", "the idle connection was not closed"
    assert "Application shutdown complete." in process.log()


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(BODY_ROUTES))
def test_on_sigterm_a_client_stalled_halfway_through_its_body_is_cut_off_after_the_grace_period(
    package, group, tmp_path
):
    process = start(group, package, tmp_path)
    with socket.create_connection(("127.0.0.1", process.port), timeout=60) as stalled:
        head = f"POST {BODY_ROUTES[package]} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        stalled.sendall(f"{head}Content-Length: 100\r\n\r\n".encode() + b'{"review": "Half a bo')
        client_port = stalled.getsockname()[1]
        wait_until(
            lambda: server_side_unread_bytes(process.port, client_port),
            lambda unread: unread == 0,
            what=f"{process.package} to have read the request's head and the body's first bytes",
        )

        code = stop_and_wait(process)

    assert code == STOPPED_BY_SIGTERM, process.log()
    assert re.search(r"Cancel 1 running task\(s\), timeout graceful shutdown exceeded", process.log()), process.log()
