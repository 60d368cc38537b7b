"""Starts processes, prefixes their output, and stops them all together.

A crashed process is reported and brings the rest down, rather than leaving a
half-working system behind; Ctrl-C stops everything cleanly.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx

STOP_TIMEOUT_SECONDS = 10.0


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    ready_url: str  # answers 200 once ready; "" for a process that is ready once started
    popen: subprocess.Popen | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self) -> None:
        self._processes: list[Process] = []
        # Ctrl-C and SIGTERM stop everything, even when started in the background,
        # where a shell hands SIGINT over ignored.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)

    def start(self, process: Process) -> None:
        process.popen = subprocess.Popen(
            process.command,
            env={**os.environ, **process.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._processes.append(process)
        threading.Thread(target=self._relay_output, args=(process,), daemon=True).start()

    def wait_ready(self, timeout_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        pending = list(self._processes)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                self._raise_if_crashed()
                if time.monotonic() > deadline:
                    names = ", ".join(p.name for p in pending)
                    raise RuntimeError(f"not ready after {timeout_seconds:.0f}s: {names}")
                pending = [p for p in pending if p.ready_url and not _answers(client, p.ready_url)]
                time.sleep(0.1)

    def run_until_interrupted(self) -> int:
        """Block until Ctrl-C (exit 0) or until a process dies (exit 1)."""
        try:
            while True:
                self._raise_if_crashed()
                time.sleep(0.2)
        except KeyboardInterrupt:
            print("\nlocalstack: stopping", flush=True)
            return 0
        except RuntimeError as error:
            print(f"localstack: {error}; stopping everything", file=sys.stderr, flush=True)
            return 1
        finally:
            self.stop_all()

    def stop_all(self) -> None:
        # A second Ctrl-C while stopping must not leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for process in self._processes:
            if process.popen and process.popen.poll() is None:
                process.popen.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in self._processes:
            if process.popen is None:
                continue
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()

    def _raise_if_crashed(self) -> None:
        for process in self._processes:
            if process.popen and process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited with code {process.popen.returncode}")

    @staticmethod
    def _relay_output(process: Process) -> None:
        assert process.popen is not None
        assert process.popen.stdout is not None
        for line in process.popen.stdout:
            sys.stdout.write(f"{process.name:>22} | {line.decode(errors='replace')}")
            sys.stdout.flush()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.TransportError:
        return False
