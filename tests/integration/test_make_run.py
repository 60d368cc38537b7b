"""`make run` (the localstack tool): starts the services, prints the URL to open, stops cleanly on Ctrl-C."""

import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from localstack.topology import Ports

pytestmark = pytest.mark.slow

DEFAULT_PORTS = Ports.default()
MONITORING_PORTS = (9090, 9093, 8025)  # Prometheus, Alertmanager, the mail sink
ALL_PORTS = (
    *DEFAULT_PORTS.services.values(),
    *DEFAULT_PORTS.sidecars.values(),
    DEFAULT_PORTS.ingress,
    DEFAULT_PORTS.ingress_tls,
    DEFAULT_PORTS.envoy_admin,
    *MONITORING_PORTS,
)


def free_port_offset() -> int:
    """An offset that moves make run's ports onto free ones, so the test never meets a developer's make run."""
    for _ in range(50):
        offset = random.randrange(10_000, 50_000, 10)
        try:
            for port in ALL_PORTS:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return offset
    raise AssertionError("no free ports for make run")


class Output:
    """The lines a process prints, read in the background so waiting for one can time out."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self._queue.put(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} in {timeout:.0f}s; output:\n{''.join(self.lines)}")


def test_make_run_starts_the_system_and_its_monitoring_prints_the_urls_and_stops_cleanly_on_ctrl_c(release, tmp_path):
    # Given a state folder that already holds a model release, as after a first make run
    state = tmp_path / "var"
    shutil.copytree(release.folder, state / "releases")
    offset = free_port_offset()

    # When make run's tool starts the system
    process = subprocess.Popen(
        [sys.executable, "-m", "localstack", "--state-dir", str(state), "--model-version", release.version,
         "--port-offset", str(offset)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = Output(process)
    ingress = f"http://127.0.0.1:{DEFAULT_PORTS.ingress + offset}"
    try:
        url = output.wait_for(r"ready: open (http://app-frontend\.localhost:\d+)/", timeout=90).group(1)

        # Then the printed URL is the page behind Envoy (browsers resolve *.localhost themselves),
        # which sets the version cookie and is wired to the API on the same Envoy, which answers the page's origin
        assert url == f"http://app-frontend.localhost:{DEFAULT_PORTS.ingress + offset}"
        page = httpx.get(ingress, headers={"Host": url.removeprefix("http://")})
        assert page.status_code == 200
        assert page.headers["set-cookie"].startswith("app-version=")
        api = re.search(r'data-api-url="([^"]+)"', page.text).group(1)
        assert api == f"http://app-service.localhost:{DEFAULT_PORTS.ingress + offset}"
        answer = httpx.post(
            f"{ingress}/api/v1/sentiment",
            json={"review": "Lovely soup."},
            headers={"Host": api.removeprefix("http://"), "Origin": url, "X-App-Version": "canary"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == url
        assert answer.json()["versions"]["model_service"] == "canary"

        # And Prometheus, printed next, scrapes the services with the rules of k8s/ loaded
        prometheus = output.wait_for(r"Prometheus: (http://127\.0\.0\.1:\d+)", timeout=5).group(1)
        assert prometheus == f"http://127.0.0.1:{9090 + offset}"
        output.wait_for(rf"Alertmanager: http://127\.0\.0\.1:{9093 + offset}", timeout=5)
        rules = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
        assert {group["name"] for group in rules} >= {"sentiment-canary.alerts", "sentiment-canary.experiment"}
        targets = httpx.get(f"{prometheus}/api/v1/targets").json()["data"]["activeTargets"]
        assert {target["labels"]["job"] for target in targets} == {"app-frontend", "app-service", "model-service"}
    finally:
        # And Ctrl-C stops everything
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0, "".join(output.lines)
    for port in ALL_PORTS:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port + offset}/")
    assert (state / "app-service-canary" / "reviews.db").exists()
    assert (state / "envoy" / "envoy.yaml").exists()
