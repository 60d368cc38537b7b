"""Starts processes, keeps their output, and stops them all together.

Output is relayed to the terminal with each line prefixed by the process's
name (`make run`), or kept in one log file per process (tests). A crashed
process is reported and brings the rest down, rather than leaving a
half-working system behind; Ctrl-C stops everything cleanly.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

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
    def __init__(self, log_dir: Path | None = None) -> None:
        """log_dir: keep each process's output in <log_dir>/<name>.log instead of relaying it."""
        self._processes: dict[str, Process] = {}
        self._log_dir = log_dir
        self._handles_interrupts = False

    def handle_interrupts(self) -> None:
        """Ctrl-C and SIGTERM stop everything, even when started in the background,
        where a shell hands SIGINT over ignored. For `make run`, not for tests."""
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        self._handles_interrupts = True

    def start(self, process: Process) -> None:
        if self._log_dir is None:
            output = subprocess.PIPE
        else:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            output = self.log_path(process.name).open("ab")
        process.popen = subprocess.Popen(
            process.command,
            env={**os.environ, **process.env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._processes[process.name] = process
        if self._log_dir is None:
            threading.Thread(target=self._relay_output, args=(process,), daemon=True).start()
        else:
            output.close()

    def log_path(self, name: str) -> Path:
        assert self._log_dir is not None
        return self._log_dir / f"{name.replace('/', '-')}.log"

    def process(self, name: str) -> Process:
        return self._processes[name]

    def stop(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop one process (SIGKILL: crash it); `start(supervisor.process(name))` brings it back."""
        popen = self._processes[name].popen
        if popen is not None and popen.poll() is None:
            popen.send_signal(sig)
            _wait_or_kill(popen, STOP_TIMEOUT_SECONDS)

    def wait_ready(self, timeout_seconds: float = 60.0, names: list[str] | None = None) -> None:
        """Wait until every process (or those named) answers 200 on its ready URL; say what each last answered."""
        deadline = time.monotonic() + timeout_seconds
        pending = [self._processes[name] for name in names] if names else list(self._processes.values())
        last: dict[str, str] = {}
        with httpx.Client(timeout=2.0) as client:
            while pending:
                self._raise_if_crashed()
                if time.monotonic() > deadline:
                    waiting = "; ".join(f"{p.name} ({last.get(p.name, 'not asked yet')})" for p in pending)
                    raise RuntimeError(f"not ready after {timeout_seconds:.0f}s: {waiting}")
                for process in pending:
                    if process.ready_url:
                        last[process.name] = _answer(client, process.ready_url)
                pending = [p for p in pending if p.ready_url and last[p.name] != "200"]
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
        if self._handles_interrupts:
            # A second Ctrl-C while stopping must not leave processes behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        running = [p.popen for p in self._processes.values() if p.popen and p.popen.poll() is None]
        for popen in running:
            popen.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for popen in running:
            _wait_or_kill(popen, max(0.1, deadline - time.monotonic()))

    def _raise_if_crashed(self) -> None:
        for process in self._processes.values():
            if process.popen and process.popen.poll() is not None:
                log = f" (log: {self.log_path(process.name)})" if self._log_dir is not None else ""
                raise RuntimeError(f"{process.name} exited with code {process.popen.returncode}{log}")

    @staticmethod
    def _relay_output(process: Process) -> None:
        assert process.popen is not None
        assert process.popen.stdout is not None
        for line in process.popen.stdout:
            sys.stdout.write(f"{process.name:>22} | {line.decode(errors='replace')}")
            sys.stdout.flush()


def _wait_or_kill(popen: subprocess.Popen, timeout: float) -> None:
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _answer(client: httpx.Client, url: str) -> str:
    """The status `url` answers ("200" when ready), with the start of its body, or why nothing answered."""
    try:
        response = client.get(url)
    except httpx.TransportError as error:
        return f"{type(error).__name__}: {error}"
    return "200" if response.status_code == 200 else f"{response.status_code} {response.text[:200]}"
