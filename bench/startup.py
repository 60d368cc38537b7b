"""Start-up: from process start to the first `/readyz` = 200, the model already in the cache.

Each service starts again beside the running system, as a new pod would: same
command and settings as its running twin, on a free port; the model-service
finds the release in the system's cache (verified, no download), the
app-service gets a database of its own.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sentiment_devtools.stack.instances import Instance

from bench.proc import cpu_seconds

POLL_SECONDS = 0.005


def time_to_ready(instance: Instance, scratch: Path, timeout_seconds: float = 30.0) -> tuple[float, float]:
    """Seconds from the start of the process to its first /readyz 200, and the CPU seconds it used until then."""
    port = _free_port()
    env = {**os.environ, **instance.env, "PORT": str(port), "LOG_LEVEL": "warning"}
    if instance.service == "app-service":
        env["DATABASE_URL"] = f"sqlite:///{scratch / f'start-up-{port}.db'}"
    url = f"http://127.0.0.1:{port}/readyz"
    with httpx.Client(timeout=1.0) as client:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, *instance.command], env=env, stdout=subprocess.DEVNULL)
        try:
            while time.perf_counter() - started < timeout_seconds:
                if process.poll() is not None:
                    raise SystemExit(f"bench: {instance.name} exited with {process.returncode} while starting")
                try:
                    if client.get(url).status_code == 200:
                        return time.perf_counter() - started, cpu_seconds(process.pid)
                except httpx.TransportError:
                    pass
                time.sleep(POLL_SECONDS)
            raise SystemExit(f"bench: {instance.name} not ready after {timeout_seconds:.0f} s")
        finally:
            process.terminate()
            process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
