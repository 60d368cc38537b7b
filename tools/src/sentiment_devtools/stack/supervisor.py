"""Starts processes, keeps their output, waits until they are ready, and stops them: for `make run` and the tests.

Output is relayed to the terminal with each line prefixed by the process's
name (`make run`), or kept in one log file per process (tests, benchmarks,
fault drills), whose tail every failure shows. Readiness is a state polled
until a deadline: an HTTP URL answering 200, or a port accepting connections.
A process that exits without being stopped has crashed: waiting for readiness
fails at once, naming it, and `make run` brings the rest down rather than
leaving a half-working system behind. A stop is SIGTERM (or the signal given),
then SIGKILL if the process has not exited after STOP_TIMEOUT_SECONDS; Ctrl-C
stops everything cleanly.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

STOP_TIMEOUT_SECONDS = 10.0
READY_POLL_SECONDS = 0.05
# How much of a log a failure shows: the end, where a crash says why.
LOG_TAIL_CHARACTERS = 3000


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # Where the process says it is ready: an http(s) URL answering 200, or any other URL (smtp://127.0.0.1:8025)
    # by accepting a connection on its host and port; "" for a process that is ready once started.
    ready_url: str = ""
    # Or a command that exits 0 once it is ready (pg_isready), instead of a URL.
    ready_command: list[str] = field(default_factory=list)
    # The signal that stops it cleanly (PostgreSQL's fast shutdown is SIGINT; SIGTERM waits for its clients).
    stop_signal: signal.Signals = signal.SIGTERM
    # Run as this user (the supervisor must be root): PostgreSQL refuses to run as root.
    user: str | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)
    stopped: bool = False  # stopped on purpose, so its exit is no crash


class ProcessFailed(RuntimeError):
    """A process crashed, or did not become ready in time; the message says which, and how its log ends."""


class Supervisor:
    def __init__(self, log_dir: Path | None = None) -> None:
        """log_dir: keep each process's output in <log_dir>/<name>.log instead of relaying it."""
        self._processes: dict[str, Process] = {}
        self._log_dir = log_dir
        self._handles_interrupts = False
        # Stopped after all the others, by run_until_interrupted too.
        self.stop_last: tuple[str, ...] = ()

    def handle_interrupts(self) -> None:
        """Ctrl-C and SIGTERM stop everything, even when started in the background,
        where a shell hands SIGINT over ignored. For `make run`, not for tests."""
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        self._handles_interrupts = True

    def start(self, process: Process) -> Process:
        """Start `process` (again, if it ran before) without waiting for it: starting several at once is quicker."""
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
            user=process.user,
            group=process.user,
            extra_groups=[] if process.user else None,
        )
        process.stopped = False
        self._processes[process.name] = process
        if self._log_dir is None:
            threading.Thread(target=self._relay_output, args=(process,), daemon=True).start()
        else:
            output.close()
        return process

    def log_path(self, name: str) -> Path:
        assert self._log_dir is not None, "a relaying supervisor keeps no log files"
        return self._log_dir / f"{name.replace('/', '-')}.log"

    def log(self, name: str) -> str:
        """Everything the process wrote so far ("" when its output is relayed to the terminal)."""
        if self._log_dir is None or not self.log_path(name).exists():
            return ""
        return self.log_path(name).read_text(errors="replace")

    def process(self, name: str) -> Process:
        return self._processes[name]

    def send_signal(self, name: str, sig: signal.Signals) -> None:
        """Signal a running process and return at once (SIGSTOP freezes it, SIGCONT thaws it)."""
        popen = self._processes[name].popen
        if popen is not None and popen.poll() is None:
            popen.send_signal(sig)

    def stop(self, name: str, sig: signal.Signals | None = None) -> None:
        """Stop one process (by its stop signal; SIGKILL: crash it) and wait for it; `start(supervisor.process(name))`
        brings it back."""
        process = self._processes[name]
        process.stopped = True
        if process.popen is not None and process.popen.poll() is None:
            process.popen.send_signal(sig or process.stop_signal)
            _wait_or_kill(process.popen, STOP_TIMEOUT_SECONDS)

    def wait_ready(self, timeout_seconds: float = 60.0, names: list[str] | None = None) -> None:
        """Wait until every running process (or those named) is ready. A crash fails at once; the deadline says
        what each process still waited for last answered; both show the end of its log."""
        deadline = time.monotonic() + timeout_seconds
        waited = [self._processes[name] for name in names] if names else list(self._processes.values())
        pending = [process for process in waited if not process.stopped]
        last: dict[str, str] = {}
        with httpx.Client(timeout=2.0) as client:
            while True:
                self._raise_if_crashed()
                for process in pending:
                    last[process.name] = _readiness(client, process)
                pending = [process for process in pending if last[process.name] != "200"]
                if not pending:
                    return
                if time.monotonic() > deadline:
                    waiting = "; ".join(f"{p.name} ({last[p.name]}){self._log_tail(p.name)}" for p in pending)
                    raise ProcessFailed(f"not ready after {timeout_seconds:.0f}s: {waiting}")
                time.sleep(READY_POLL_SECONDS)

    def run_until_interrupted(self) -> int:
        """Block until Ctrl-C (exit 0) or until a process dies (exit 1)."""
        try:
            while True:
                self._raise_if_crashed()
                time.sleep(0.2)
        except KeyboardInterrupt:
            print("\nstack: stopping", flush=True)
            return 0
        except ProcessFailed as error:
            print(f"stack: {error}; stopping everything", file=sys.stderr, flush=True)
            return 1
        finally:
            self.stop_all(self.stop_last)

    def stop_all(self, last: tuple[str, ...] = ()) -> None:
        """Its stop signal to every running process at once, then SIGKILL to those still running at the deadline;
        the processes named in `last` (a database its clients use to the end) once the others have exited."""
        if self._handles_interrupts:
            # A second Ctrl-C while stopping must not leave processes behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for process in self._processes.values():
            process.stopped = True
        for group in ([p for p in self._processes.values() if p.name not in last],
                      [p for p in self._processes.values() if p.name in last]):  # fmt: skip
            running = [p for p in group if p.popen and p.popen.poll() is None]
            for process in running:
                process.popen.send_signal(process.stop_signal)
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            for process in running:
                _wait_or_kill(process.popen, max(0.1, deadline - time.monotonic()))

    def _raise_if_crashed(self) -> None:
        for process in self._processes.values():
            if not process.stopped and process.popen and process.popen.poll() is not None:
                raise ProcessFailed(
                    f"{process.name} exited with code {process.popen.returncode}{self._log_tail(process.name)}"
                )

    def _log_tail(self, name: str) -> str:
        if self._log_dir is None:
            return ""
        return f"\n--- the end of {self.log_path(name)}:\n{self.log(name)[-LOG_TAIL_CHARACTERS:]}\n---"

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


def _readiness(client: httpx.Client, process: Process) -> str:
    if process.ready_command:
        check = subprocess.run(process.ready_command, capture_output=True, text=True, timeout=10, check=False)
        return "200" if check.returncode == 0 else (check.stdout + check.stderr).strip() or f"exit {check.returncode}"
    return _answer(client, process.ready_url) if process.ready_url else "200"


def _answer(client: httpx.Client, url: str) -> str:
    """ "200" once `url` says ready; otherwise what it answered (status and the start of its body) or why not."""
    parts = urlsplit(url)
    try:
        if parts.scheme not in ("http", "https"):
            socket.create_connection((parts.hostname, parts.port), timeout=1.0).close()
            return "200"
        response = client.get(url)
    except (httpx.TransportError, OSError) as error:
        return f"{type(error).__name__}: {error}"
    return "200" if response.status_code == 200 else f"{response.status_code} {response.text[:200]}"
