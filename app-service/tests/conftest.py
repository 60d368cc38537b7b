"""Fixtures of the app-service tests: the app in process, in front of a scriptable model-service over real HTTP.

The stand-in model-service is a real HTTP server on 127.0.0.1 whose behaviour a
test chooses (answer, be slow, fail, drop the connection), so the app-service's
real client meets real sockets. The real model-service is used by the
cross-service tests in tests/integration/.
"""

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from app_service.app import create_app
from app_service.settings import Settings
from fastapi.testclient import TestClient
from support.clients import started_clients
from support.postgres import postgres_server, postgres_url, postgresql  # noqa: F401 (fixtures)

EXPORT_KEY = "test-export-key-0123456789"
FRONTEND_ORIGIN = "http://frontend.test:8301"
NEGATIVE_WORDS = ("awful", "bland", "rude", "never")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StandInModelService:
    """Answers like the model-service, or misbehaves as told: mode is ok, slow, error, garbage, drop, drop_once or
    hang_up_after (answers, then closes the keep-alive connection without saying so)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay_seconds = 2.0
        self.predict_calls = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.predict_calls += 1
                mode = stand_in.mode
                if mode in ("drop", "drop_once"):
                    if mode == "drop_once":
                        stand_in.mode = "ok"
                    self.close_connection = True  # hang up without an answer
                    return
                if mode == "slow":
                    time.sleep(stand_in.delay_seconds)
                if mode == "error":
                    self._send(500, {"detail": "model exploded"})
                elif mode == "garbage":
                    self._send(200, {"label": "maybe"})
                else:
                    self.close_connection = mode == "hang_up_after"
                    negative = any(word in body["review"].lower() for word in NEGATIVE_WORDS)
                    label = "negative" if negative else "positive"
                    self._send(200, {"label": label, "confidence": 0.875, "model_version": "v9.9.9",
                                     "app_version": "canary"})  # fmt: skip

            def do_GET(self) -> None:
                if self.path == "/readyz" and stand_in.mode == "slow":
                    time.sleep(stand_in.delay_seconds)
                if self.path == "/readyz" and stand_in.mode == "error":
                    self._send(503, {"status": "not ready", "detail": "model not loaded"})
                elif self.path == "/readyz":
                    self._send(200, {"status": "ready"})
                elif self.path == "/version":
                    version = {"release": "1.0.0", "app_version": "canary", "model_version": "v9.9.9"}
                    self._send(200, {**version, "service": "model-service", "model_sha256": "ab" * 32, "extra": 1})
                else:
                    self._send(404, {"detail": "Not Found"})

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def model_service() -> Iterator[StandInModelService]:
    service = StandInModelService()
    yield service
    service.close()


@pytest.fixture
def nothing_listening_url() -> str:
    """A URL on 127.0.0.1 where no server listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values = {
        "database_url": f"sqlite:///{tmp_path / 'data' / 'reviews.db'}",
        "export_api_key": EXPORT_KEY,
        "cors_allowed_origins": FRONTEND_ORIGIN,
        "model_service_timeout_seconds": 0.5,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def make_client(tmp_path: Path, model_service: StandInModelService) -> Iterator:
    """Start the app with settings overrides; every client is closed afterwards."""

    def settings(**overrides: object) -> Settings:
        return settings_for(tmp_path, **{"model_service_url": model_service.url, **overrides})

    with started_clients() as start:
        yield lambda **overrides: start(create_app(settings(**overrides)))


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def _metric(client: TestClient, sample: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {sample} in /metrics")


@pytest.fixture
def metric():
    """metric(client, 'reviews_submitted_total{version="stable"}'): the value of one sample of /metrics."""
    return _metric


@pytest.fixture
def export_key() -> str:
    return EXPORT_KEY
