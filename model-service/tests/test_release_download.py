"""Real processes against a local server playing GitHub's release downloads.

GitHub answers `/<owner>/<repo>/releases/download/<tag>/<asset>` with a 302 to
a storage host; this server does the same on 127.0.0.1, and can also serve a
tampered, truncated or slow asset.
"""

import pickle
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from model_service.integrity import sha256_file
from support.waiting import wait_until

pytestmark = pytest.mark.slow


class FakeGitHub:
    def __init__(self, release) -> None:
        self.assets = {
            name: (release.folder / release.version / name).read_bytes() for name in ("model.joblib", "model.json")
        }
        self.requests: Counter[str] = Counter()
        self.truncate: set[str] = set()
        self.delay_seconds = 0.0
        self.in_flight = 0  # requests received and not yet answered in full
        self._lock = threading.Lock()
        github = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with github._lock:
                    github.requests[self.path] += 1
                    github.in_flight += 1
                try:
                    self._answer()
                finally:
                    with github._lock:
                        github.in_flight -= 1

            def _answer(self) -> None:
                parts = self.path.strip("/").split("/")
                if len(parts) == 6 and parts[2:4] == ["releases", "download"]:
                    self.send_response(302)
                    self.send_header("Location", f"/storage/{parts[4]}/{parts[5]}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = github.assets.get(parts[-1]) if parts[0] == "storage" else None
                if body is None:
                    self.send_error(404)
                    return
                time.sleep(github.delay_seconds)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if parts[-1] in github.truncate else body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.template = (
            f"http://127.0.0.1:{self._server.server_port}/{{repository}}/releases/download/{{version}}/{{asset}}"
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def downloads(self, asset: str) -> int:
        return sum(count for path, count in self.requests.items() if path.startswith("/storage/") and asset in path)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def github(release):
    server = FakeGitHub(release)
    yield server
    server.stop()


def service_env(release, github: FakeGitHub, cache: Path) -> dict[str, str]:
    return {
        "MODEL_VERSION": release.version,
        "MODEL_SHA256": release.manifest.sha256,
        "MODEL_REPOSITORY": "owner/repo",
        "MODEL_URL_TEMPLATE": github.template,
        "MODEL_CACHE_DIR": str(cache),
        "MODEL_DOWNLOAD_ATTEMPTS": "2",
        "MODEL_DOWNLOAD_TIMEOUT_SECONDS": "5",
    }


def predict(service, review: str) -> dict:
    response = httpx.post(f"{service.url}/v1/predict", json={"review": review}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def files_in(cache: Path) -> list[str]:
    return sorted(str(path.relative_to(cache)) for path in cache.rglob("*"))


def unready_saying(service, reason: str, cache: Path, cached: list[str] | None = None) -> str:
    """/readyz's detail once it says `reason` while the cache holds `cached` (default: no model.joblib anywhere).

    The service keeps retrying, and an attempt in flight writes into a staging folder, so both are read
    together until they agree: what matters is what every failed attempt leaves behind.
    """

    def state() -> tuple[int, str, list[str]]:
        response = httpx.get(f"{service.url}/readyz", timeout=5)
        return response.status_code, response.json()["detail"], files_in(cache)

    def settled(seen: tuple[int, str, list[str]]) -> bool:
        status, detail, files = seen
        left = files == cached if cached is not None else not any(f.endswith("model.joblib") for f in files)
        return status == 503 and reason in detail and left

    return wait_until(
        state, settled, what=f"/readyz to say {reason!r}, the cache clean", ignoring=(httpx.TransportError,),
        context=lambda: f"log:\n{service.log()}",
    )[1]  # fmt: skip


def test_first_start_downloads_and_caches_then_a_restart_needs_no_network(release, github, start_service, tmp_path):
    cache = tmp_path / "cache"
    first = start_service(**service_env(release, github, cache))
    first.wait_until("/readyz", 200)

    assert predict(first, "The pizza was wonderful.")["label"] == "positive"
    assert github.requests[f"/owner/repo/releases/download/{release.version}/model.joblib"] == 1
    assert github.downloads("model.joblib") == 1
    assert sha256_file(cache / release.version / "model.joblib") == release.manifest.sha256

    first.stop()
    github.stop()
    second = start_service(**service_env(release, github, cache))
    second.wait_until("/readyz", 200)

    assert predict(second, "The salad was terrible.")["label"] == "negative"
    assert "downloaded" not in second.log()


def test_a_tampered_asset_is_refused_and_never_unpickled(release, github, start_service, tmp_path):
    marker = tmp_path / "pwned"

    class WritesMarker:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    github.assets["model.joblib"] = pickle.dumps(WritesMarker())
    cache = tmp_path / "cache"
    service = start_service(**service_env(release, github, cache))

    detail = unready_saying(service, "refused", cache)

    assert "model.joblib has sha256" in detail
    assert not marker.exists()
    error_lines = [line for line in service.log().splitlines() if "model not loaded" in line]
    assert error_lines, service.log()
    assert f"(sha256 {release.manifest.sha256})" in error_lines[0]
    assert "refused" in error_lines[0]


def test_a_truncated_download_is_tried_as_often_as_configured_and_leaves_nothing_in_the_cache(
    release, github, start_service, tmp_path
):
    # Given a model host that always cuts the artifact short, and a service allowed 2 attempts per fetch
    github.truncate.add("model.joblib")
    cache = tmp_path / "cache"
    service = start_service(**service_env(release, github, cache))

    # When it has given up at least once: seen between two of its fetches, with no request in flight and the
    # cache as a failed fetch leaves it (read last, so that a fetch begun meanwhile shows there)
    def between_fetches() -> tuple[int, str, int, int, int, list[str]]:
        gave_up = sum("gave up after 2 attempts" in line for line in service.log().splitlines())
        downloads, in_flight = github.downloads("model.joblib"), github.in_flight
        response = httpx.get(f"{service.url}/readyz", timeout=5)
        return response.status_code, response.json()["detail"], gave_up, downloads, in_flight, files_in(cache)

    # Then it says why, every fetch it gave up made exactly its 2 attempts, each finished, and nothing is cached:
    # a state the service passes through between its fetches, and only if each makes its 2 attempts
    _, detail, *_ = wait_until(
        between_fetches,
        lambda seen: (seen[0], seen[4], seen[5]) == (503, 0, [f".{release.version}.lock"]) and seen[2] >= 1
        and seen[3] == 2 * seen[2],
        what="a fetch given up after its 2 downloads, none in flight, the cache clean",
        ignoring=(httpx.TransportError,),
        context=lambda: f"log:\n{service.log()}",
        describe=lambda seen: f"readyz {seen[0]}, {seen[2]} fetches given up, {seen[3]} downloads, "
        f"{seen[4]} in flight, cache {seen[5]}",
    )  # fmt: skip
    assert "gave up after 2 attempts" in detail
    assert "model.joblib" in detail, detail


def test_two_processes_starting_on_one_cache_download_once(release, github, start_service, tmp_path):
    github.delay_seconds = 1.0
    cache = tmp_path / "cache"
    env = service_env(release, github, cache)

    services = [start_service(**env), start_service(**env)]
    for service in services:
        service.wait_until("/readyz", 200, timeout=90)

    assert github.downloads("model.joblib") == 1
    assert files_in(cache) == [
        f".{release.version}.lock",
        release.version,
        f"{release.version}/model.joblib",
        f"{release.version}/model.json",
    ]
    assert sha256_file(cache / release.version / "model.joblib") == release.manifest.sha256
    assert {predict(service, "Service was quick!")["model_version"] for service in services} == {release.version}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("missing asset", "HTTP 404 Not Found"),
        ("host unreachable", "ConnectError"),
        ("host too slow", "timed out after 1s"),
    ],
)
def test_a_model_host_that_fails_keeps_the_service_unready_saying_why_in_one_line(
    release, github, start_service, tmp_path, fault, reason
):
    # Given a model host that fails in one way
    if fault == "missing asset":
        del github.assets["model.joblib"]
    elif fault == "host unreachable":
        github.stop()
    else:
        github.delay_seconds = 3.0
    cache = tmp_path / "cache"
    env = service_env(release, github, cache) | {"MODEL_DOWNLOAD_TIMEOUT_SECONDS": "1"}

    # When the model-service starts
    service = start_service(**env)

    # Then it stays alive but not ready, says why (naming the URL) on /readyz and in one log line, caches nothing
    detail = unready_saying(service, reason, cache)
    assert f"/{release.version}/model." in detail
    assert service.wait_until("/healthz", 200)
    lines = [line for line in service.log().splitlines() if "model not loaded" in line]
    assert lines, service.log()
    assert reason in lines[0]
