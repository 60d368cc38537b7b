"""`make run` (`python -m sentiment_devtools.stack`): starts the services, prints the URL to open, stops on Ctrl-C."""

import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from sentiment_devtools import system
from sentiment_devtools.stack.instances import Ports
from sentiment_devtools.system import ARMS, SERVICES
from support.postgres import reachable_folder
from support.waiting import DEADLINE_SECONDS, STARTUP_SECONDS, wait_until

pytestmark = pytest.mark.slow

DEFAULT_PORTS = Ports.default()
MONITORING_PORTS = (system.LOCAL_PROMETHEUS_PORT, system.LOCAL_ALERTMANAGER_PORT, system.LOCAL_SMTP_PORT)
ALL_PORTS = (
    *DEFAULT_PORTS.services.values(),
    *DEFAULT_PORTS.sidecars.values(),
    *DEFAULT_PORTS.second_app_services.values(),
    DEFAULT_PORTS.postgres,
    *DEFAULT_PORTS.inbound.values(),
    DEFAULT_PORTS.ingress,
    DEFAULT_PORTS.ingress_tls,
    DEFAULT_PORTS.envoy_admin,
    *MONITORING_PORTS,
)


def free_port_offset() -> int:
    """An offset that moves make run's ports onto free ones, so the test never meets a developer's make run.

    Drawn from the system's randomness: pytest-randomly seeds `random` alike for every test of a run, and
    two runs given the same seed (to reproduce an order) would otherwise try the same ports.
    """
    draw = random.SystemRandom()
    # Below the kernel's ephemeral ports: a connection made while the system starts (an app-service's to its
    # database, say) would otherwise take a port a later process is about to listen on.
    ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(50):
        offset = draw.randrange(1_000, ephemeral - max(ALL_PORTS), 10)
        try:
            for port in ALL_PORTS:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return offset
    raise AssertionError("no free ports for make run")


class Output:
    """The lines a process prints, read in the background so that waiting for one has a deadline."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._read_up_to = 0  # lines before this one were matched or passed over by an earlier wait
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = DEADLINE_SECONDS) -> re.Match:
        """The first line after the last one waited for that matches `pattern`; fails at once if output ended."""

        def next_match() -> tuple[int, re.Match] | None:
            ended = not self._reader.is_alive()  # read before the lines: once it ended, they are all there
            for number in range(self._read_up_to, len(self.lines)):
                if match := re.search(pattern, self.lines[number]):
                    return number, match
            if ended:
                raise AssertionError(f"the output ended with no line matching {pattern!r}:\n{''.join(self.lines)}")
            return None

        number, match = wait_until(
            next_match,
            what=f"a line matching {pattern!r}",
            timeout=timeout,
            describe=lambda _: "no such line yet",
            context=lambda: f"output:\n{''.join(self.lines)}",
        )
        self._read_up_to = number + 1
        return match


def ctrl_c(process: subprocess.Popen) -> int:
    """Send Ctrl-C (SIGINT) and return the exit code once the process has stopped; kill it past the deadline."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def prometheus_targets(prometheus: str) -> dict[str, str]:
    """Each target Prometheus has discovered (job/pod) and its health, with the last scrape's error if any."""
    targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5.0).json()["data"]["activeTargets"]
    return {
        f"{t['labels']['job']}/{t['labels']['pod']}": " ".join(filter(None, (t["health"], t["lastError"])))
        for t in targets
    }


def test_make_run_starts_the_system_and_its_monitoring_prints_the_urls_and_stops_cleanly_on_ctrl_c(release, tmp_path):
    # Given a state folder that already holds a model release, as after a first make run
    state = tmp_path / "var"
    shutil.copytree(release.folder, state / "releases")
    offset = free_port_offset()

    # When make run's tool starts the system
    process = subprocess.Popen(
        [sys.executable, "-m", "sentiment_devtools.stack", "--state-dir", str(state),
         "--model-version", release.version, "--port-offset", str(offset)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = Output(process)
    ingress = f"http://127.0.0.1:{DEFAULT_PORTS.ingress + offset}"
    try:
        url = output.wait_for(r"ready: open (http://app-frontend\.localhost:\d+)/", STARTUP_SECONDS).group(1)

        # Then the printed URL is the page behind Envoy (browsers resolve *.localhost themselves),
        # which sets the version cookie and is wired to the API on the same Envoy, which answers the page's origin
        assert url == f"http://app-frontend.localhost:{DEFAULT_PORTS.ingress + offset}"
        page = httpx.get(ingress, headers={"Host": url.removeprefix("http://")})
        assert page.status_code == 200
        assert any(cookie.startswith("app-version=") for cookie in page.headers.get_list("set-cookie"))
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
        prometheus = output.wait_for(r"Prometheus: (http://127\.0\.0\.1:\d+)").group(1)
        assert prometheus == f"http://127.0.0.1:{system.LOCAL_PROMETHEUS_PORT + offset}"
        output.wait_for(rf"Alertmanager: http://127\.0\.0\.1:{system.LOCAL_ALERTMANAGER_PORT + offset}")
        wait_until(
            lambda: {group["name"] for group in httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]},
            lambda names: names >= {"sentiment-canary.alerts", "sentiment-canary.experiment"},
            what="Prometheus to have the rule groups of k8s/",
        )
        # Prometheus takes its targets a few seconds after it is ready (at its first target sync), and scrapes
        # each within a scrape interval of that: wait for both, as a person opening its Targets page would.
        # The gateway too, as its PodMonitor names it: the local Envoy's own statistics.
        gateway = "sentiment-ingressgateway/sentiment-ingressgateway-local"
        every_target = {f"{job}/{job}-{version}" for job in SERVICES for version in ARMS} | {gateway}
        wait_until(
            lambda: prometheus_targets(prometheus),
            lambda targets: set(targets) == every_target,
            what="Prometheus to discover both versions of the three services, and the gateway",
        )
        targets = wait_until(
            lambda: prometheus_targets(prometheus),
            lambda targets: set(targets.values()) == {"up"},
            what="Prometheus to scrape every target, up",
        )
        assert targets == dict.fromkeys(every_target, "up")
    finally:
        # And Ctrl-C stops everything
        code = ctrl_c(process)
    assert code == 0, "".join(output.lines)
    for port in ALL_PORTS:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port + offset}/")
    assert (state / "app-service-canary" / "reviews.db").exists()
    assert (state / "envoy" / "envoy.yaml").exists()


def served_by_each(replica_ports: list[int]) -> dict[int, float]:
    """The reviews each app-service replica has stored, from its own metrics."""
    counts = {}
    for port in replica_ports:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
        counts[port] = float(re.search(r'^reviews_submitted_total\{version="stable"\} (\S+)$', text, re.M).group(1))
    return counts


def test_make_run_on_postgresql_runs_a_local_server_and_two_app_service_replicas_per_arm(release):
    with reachable_folder("sentiment-make-run-") as state:
        # Given a state folder that already holds a model release
        shutil.copytree(release.folder, state / "releases")
        offset = free_port_offset()

        # When make run DB=postgres's tool starts the system
        process = subprocess.Popen(
            [sys.executable, "-m", "sentiment_devtools.stack", "--state-dir", str(state), "--database", "postgres",
             "--model-version", release.version, "--port-offset", str(offset), "--no-monitoring"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        output = Output(process)
        ingress = f"http://127.0.0.1:{DEFAULT_PORTS.ingress + offset}"
        replicas = [DEFAULT_PORTS.services["app-service", "stable"] + offset,
                    DEFAULT_PORTS.second_app_services["stable"] + offset]  # fmt: skip
        try:
            url = output.wait_for(r"ready: open (http://app-frontend\.localhost:\d+)/", STARTUP_SECONDS).group(1)
            api = f"app-service.localhost:{DEFAULT_PORTS.ingress + offset}"

            # Then reviews through Envoy are stored by both of the arm's replicas, in the arm's database
            def review() -> int:
                answer = httpx.post(f"{ingress}/api/v1/sentiment", json={"review": "Lovely soup."},
                                    headers={"Host": api, "Origin": url, "X-App-Version": "stable"})  # fmt: skip
                assert answer.status_code == 200, answer.text
                return 1

            wait_until(
                lambda: review() and served_by_each(replicas),
                lambda counts: all(count > 0 for count in counts.values()),
                what="both stable app-service replicas to store reviews",
            )
        finally:
            # And Ctrl-C stops everything, the database server last
            code = ctrl_c(process)
        assert code == 0, "".join(output.lines)
        for port in (*replicas, DEFAULT_PORTS.postgres + offset):
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
        assert (state / "postgres" / "data" / "PG_VERSION").exists()
        assert not (state / "app-service-stable").exists()  # no SQLite file
