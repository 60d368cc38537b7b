"""Prometheus, Alertmanager and the mail sink as real processes on 127.0.0.1, for the tests: each a
sentiment_devtools.stack.monitoring.servers process, run by the stack's own supervisor."""

import mailbox
from email.message import Message
from pathlib import Path

import httpx
from sentiment_devtools.stack.supervisor import Process, Supervisor

from support.waiting import STARTUP_SECONDS


def start_all(processes: list[Process], supervisor: Supervisor) -> None:
    """Start the servers and wait until each is ready; the supervisor's stop_all stops them."""
    for process in processes:
        supervisor.start(process)
    supervisor.wait_ready(STARTUP_SECONDS, names=[process.name for process in processes])


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
