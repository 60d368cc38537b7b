"""Real processes for the cross-service tests: a quickly trained model release and services on 127.0.0.1."""

import json
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from sentiment_devtools.stack.model_release import LocalRelease as Release
from sentiment_devtools.stack.supervisor import LOG_TAIL_CHARACTERS, Process, Supervisor

from support.waiting import STARTUP_SECONDS, wait_until

EXPORT_KEY = "integration-export-key-0123456789"


def train(out: Path, version: str, *source: str) -> subprocess.CompletedProcess:
    """The training CLI, made quick: two folds, and only the lexicon's most polar words."""
    return subprocess.run(
        [sys.executable, "-m", "model_service", "train", "--version", version, "--out", str(out), *source,
         "--folds", "2", "--inner-folds", "2", "--jobs", "1", "--lexicon-min-valence", "2.5"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def train_demo_release(folder: Path, version: str = "v0.0.1-test") -> Release:
    result = train(folder, version, "--demo")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((folder / version / "model.json").read_text())
    return Release(folder, version, manifest["sha256"])


def serve_refused(package: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m <package> serve` with only `env` (and PATH) in its environment, for a start it must refuse."""
    return subprocess.run(
        [sys.executable, "-m", package, "serve"],
        env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServiceProcess:
    """`python -m <package> serve` as a real process on 127.0.0.1, run by its group's supervisor, its log in a file."""

    def __init__(self, supervisor: Supervisor, name: str, package: str, port: int) -> None:
        self.name = name
        self.package = package
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._supervisor = supervisor

    @property
    def log_path(self) -> Path:
        return self._supervisor.log_path(self.name)

    def log(self) -> str:
        return self._supervisor.log(self.name)

    def wait_until(self, path: str, status: int = 200, timeout: float = STARTUP_SECONDS) -> httpx.Response:
        """The first answer of `path` with `status`; fails at once, with the end of the log, if the process exits."""

        def answer() -> httpx.Response:
            popen = self._supervisor.process(self.name).popen
            if popen.poll() is not None:
                raise AssertionError(f"{self.package} exited with {popen.returncode}; its log ends:\n{self.log_tail()}")
            return httpx.get(self.url + path, timeout=2.0)

        return wait_until(
            answer,
            lambda response: response.status_code == status,
            what=f"{self.package} {path} to answer {status}",
            timeout=timeout,
            interval=0.05,
            ignoring=(httpx.TransportError,),
            context=lambda: f"its log ends:\n{self.log_tail()}",
            describe=lambda response: f"{response.status_code} {response.text}",
        )

    def log_tail(self) -> str:
        return self.log()[-LOG_TAIL_CHARACTERS:]

    def send_signal(self, sig: signal.Signals) -> None:
        self._supervisor.send_signal(self.name, sig)

    def exit_code(self) -> int | None:
        """The process's exit code, or None while it runs."""
        return self._supervisor.process(self.name).popen.poll()

    @property
    def pid(self) -> int:
        return self._supervisor.process(self.name).popen.pid

    def run_state(self) -> str:
        """The kernel's one-letter state of the process: R running, S sleeping, T stopped by a signal..."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0]  # the name, in parentheses, may hold spaces

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Send `sig` and wait for the process to exit; SIGKILL it after the supervisor's stop timeout."""
        self._supervisor.stop(self.name, sig)


class ProcessGroup:
    """Service processes started, waited for and stopped together by the stack's own supervisor; logs in one folder.

    Waiting is for a state with a deadline: a process that exits meanwhile fails the wait at once, and every
    failure shows the end of the process's log (sentiment_devtools.stack.supervisor).
    """

    def __init__(self, log_dir: Path) -> None:
        self.supervisor = Supervisor(log_dir)
        self._count = 0

    def launch(self, package: str, port: int | None = None, **env: str) -> ServiceProcess:
        """Start a service without waiting for it: starting them all at once is much quicker."""
        port = port or free_port()
        name = f"{package}-{self._count}"
        self._count += 1
        self.supervisor.start(
            Process(
                name,
                [sys.executable, "-m", package, "serve"],
                {**env, "HOST": "127.0.0.1", "PORT": str(port)},
                ready_url=f"http://127.0.0.1:{port}/readyz",
            )
        )
        return ServiceProcess(self.supervisor, name, package, port)

    def start(self, package: str, port: int | None = None, **env: str) -> ServiceProcess:
        process = self.launch(package, port, **env)
        self.supervisor.wait_ready(STARTUP_SECONDS, names=[process.name])
        return process

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        self.supervisor.wait_ready(timeout)

    def stop_all(self) -> None:
        self.supervisor.stop_all()


@dataclass(frozen=True)
class Stack:
    """One arm's chain: frontend -> app-service -> model-service, wired as the user's browser sees it."""

    model: ServiceProcess
    app: ServiceProcess
    frontend: ServiceProcess

    @property
    def origin(self) -> str:
        """The frontend's origin, which the app-service allows."""
        return self.frontend.url


def launch_stack(
    group: ProcessGroup,
    release: Release,
    data_dir: Path,
    version: str = "stable",
    frontend_port: int | None = None,
    cors_origins: tuple[str, ...] = (),
) -> Stack:
    """Launch one arm's three services (wait with group.wait_ready()); the app-service allows its frontend."""
    frontend_port = frontend_port or free_port()
    origins = ",".join((f"http://127.0.0.1:{frontend_port}", *cors_origins))
    flag = "true" if version == "canary" else "false"
    model = group.launch("model_service", **model_service_env(release, data_dir / "model-cache", version))
    database = data_dir / f"reviews-{version}.db"
    app = group.launch("app_service", **app_service_env(model, database, version, CORS_ALLOWED_ORIGINS=origins))
    frontend = group.launch(
        "app_frontend", port=frontend_port, APP_VERSION=version, APP_SERVICE_PUBLIC_URL=app.url, SHOW_CONFIDENCE=flag
    )
    return Stack(model, app, frontend)


def model_service_env(release: Release, cache: Path, version: str = "stable") -> dict[str, str]:
    return {
        "APP_VERSION": version,
        "MODEL_VERSION": release.version,
        "MODEL_SHA256": release.sha256,
        "MODEL_URL_TEMPLATE": release.url_template,
        "MODEL_CACHE_DIR": str(cache),
    }


def app_service_env(model_service: ServiceProcess, database: Path | str, version: str = "stable", **extra: str) -> dict:
    """database: a SQLite file, or a PostgreSQL database's URL."""
    postgresql = str(database).startswith("postgresql://")
    return {
        "APP_VERSION": version,
        "MODEL_SERVICE_URL": model_service.url,
        "DATABASE_URL": str(database) if postgresql else f"sqlite:///{database}",
        "EXPORT_API_KEY": EXPORT_KEY,
        "MODEL_SERVICE_TIMEOUT_SECONDS": "1",
        "SHOW_CONFIDENCE": "true" if version == "canary" else "false",  # the canary's feature flag
        **extra,
    }


def metric(service: ServiceProcess, sample: str) -> float:
    """The value of one sample of a service's /metrics, e.g. 'reviews_submitted_total{version="stable"}'."""
    text = httpx.get(f"{service.url}/metrics").text
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"no {sample} in /metrics of {service.package}:\n{text}"
    return float(match.group(1))


def server_errors(service: ServiceProcess) -> int:
    """5xx answers the service itself counted, also those a client gave up waiting for; not the 503s of /readyz
    while the model loads, which say "not yet" by design."""
    text = httpx.get(f"{service.url}/metrics").text
    counts = re.findall(r'^http_requests_total\{([^}]*status="5\d\d"[^}]*)\} (\S+)$', text, re.MULTILINE)
    return sum(int(float(count)) for labels, count in counts if 'route="/readyz"' not in labels)
