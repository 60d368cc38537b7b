"""The whole system on this machine: both versions of the three services behind Envoy.

`make run` starts it in the foreground; tests, benchmarks and fault drills
start it on free ports with logs in files, and may stop, crash or restart any
of its processes, or rebuild Envoy's configuration from another copy of k8s/.
"""

import signal
import sys
from pathlib import Path

from sentiment_devtools.experiment.declaration import running_id
from sentiment_devtools.stack.envoy import envoy_process
from sentiment_devtools.stack.instances import Instance, Ports, local_topology, public_url
from sentiment_devtools.stack.model_release import LocalRelease
from sentiment_devtools.stack.supervisor import Process, Supervisor
from sentiment_devtools.system import API_HOST, ARMS, FRONTEND_HOST


class LocalStack:
    def __init__(
        self,
        release: LocalRelease,
        state_dir: Path,
        *,
        k8s_dir: Path = Path("k8s"),
        ports: Ports | None = None,
        tls: bool = False,
        versions: tuple[str, ...] = ARMS,
        log_dir: Path | None = None,
    ) -> None:
        self.release = release
        self.state_dir = state_dir
        self.k8s_dir = k8s_dir
        self.ports = ports or Ports.default()
        self.tls = tls
        self.instances = local_topology(release, state_dir, self.ports, tls, versions, running_id(k8s_dir))
        self.supervisor = Supervisor(log_dir)

    @property
    def frontend_url(self) -> str:
        return public_url(FRONTEND_HOST, self.ports, self.tls)

    @property
    def api_url(self) -> str:
        return public_url(API_HOST, self.ports, self.tls)

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.envoy_admin}"

    def instance(self, service: str, version: str) -> Instance:
        return next(i for i in self.instances if i.service == service and i.version == version)

    def start(self, timeout_seconds: float = 90.0) -> None:
        """Compile the mesh (it fails fast on a bad manifest), then start everything and wait until ready."""
        envoy = envoy_process(self.k8s_dir, self.instances, self.ports, self.state_dir, self.tls)
        for instance in self.instances:
            self.supervisor.start(
                Process(instance.name, [sys.executable, *instance.command], instance.env, f"{instance.url}/readyz")
            )
        self.supervisor.start(envoy)
        try:
            self.supervisor.wait_ready(timeout_seconds)
        except BaseException:
            self.supervisor.stop_all()
            raise

    def restart(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop one process (SIGKILL to crash it), start it again and wait until it is ready."""
        self.supervisor.stop(name, sig)
        self.supervisor.start(self.supervisor.process(name))
        self.supervisor.wait_ready(names=[name])

    def rebuild_mesh(self, k8s_dir: Path) -> None:
        """Recompile Envoy's configuration from another k8s/ folder and restart Envoy on it."""
        self.k8s_dir = k8s_dir
        envoy = envoy_process(k8s_dir, self.instances, self.ports, self.state_dir, self.tls)
        self.supervisor.stop("envoy")
        self.supervisor.start(envoy)
        self.supervisor.wait_ready(names=["envoy"])

    def stop(self) -> None:
        self.supervisor.stop_all()

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
