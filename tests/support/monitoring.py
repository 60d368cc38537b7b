"""Prometheus, Alertmanager and the mail sink as real processes on 127.0.0.1, for the tests."""

import mailbox
import socket
import subprocess
from email.message import Message
from pathlib import Path

import httpx
from localmonitoring.servers import Server

from support.services import stop_process
from support.waiting import STARTUP_SECONDS, wait_until


class Running:
    """One monitoring server started from its localmonitoring.servers.Server, its log kept in a file."""

    def __init__(self, server: Server, log_dir: Path) -> None:
        self.server = server
        self.log_path = log_dir / f"{server.name}.log"
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(server.command, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        wait_until(
            self._readiness,
            lambda status: status == 200,
            what=f"{self.server.name} to be ready",
            timeout=timeout,
            interval=0.05,
            ignoring=(httpx.TransportError, OSError),
            context=lambda: f"log:\n{self.log()}",
        )

    def stop(self) -> None:
        stop_process(self._process)
        self._log.close()

    def _readiness(self) -> int:
        """The ready URL's status; the mail sink has none, and is ready (200) once it accepts connections."""
        if self._process.poll() is not None:
            raise AssertionError(f"{self.server.name} exited with {self._process.returncode}:\n{self.log()}")
        if not self.server.ready_url:
            host, port = self.server.url.removeprefix("smtp://").split(":")
            socket.create_connection((host, int(port)), timeout=0.5).close()
            return 200
        return httpx.get(self.server.ready_url, timeout=1.0).status_code


def start_all(servers: list[Server], log_dir: Path) -> list[Running]:
    running = [Running(server, log_dir) for server in servers]
    for process in running:
        process.wait_ready()
    return running


def query(prometheus_url: str, promql: str) -> list[dict]:
    """The result of an instant query; fails the test on any error Prometheus reports."""
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": promql}, timeout=10.0)
    body = response.json()
    assert body["status"] == "success", f"{promql}: {body}"
    return body["data"]["result"]


def received_mail(maildir: Path) -> list[Message]:
    if not maildir.exists():
        return []
    return list(mailbox.Maildir(maildir, create=False))
