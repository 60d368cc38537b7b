"""The whole system on this machine: both versions of the three services behind Envoy.

`make run` starts it in the foreground; tests, benchmarks and fault drills
start it on free ports with logs in files, and may stop, crash or restart any
of its processes, drain one out of Envoy's endpoints, or rebuild Envoy's
configuration from another copy of k8s/.

With `database="postgres"` it also runs a PostgreSQL server of its own
(stack/postgres.py), one database per arm, and two app-service replicas per
arm on it, behind Envoy as the cluster's two pods are; `rolling_restart`
replaces one as a rolling update does: out of the endpoints, SIGTERM (the
requests in flight finish), started again, ready, back in.
"""

import signal
import sys
from pathlib import Path

from sentiment_devtools.experiment.declaration import running_id
from sentiment_devtools.stack.endpoints import Endpoints, wait_for_hosts
from sentiment_devtools.stack.envoy import compiled_config, envoy_process_for
from sentiment_devtools.stack.instances import Instance, Ports, local_topology, public_url
from sentiment_devtools.stack.model_release import LocalRelease
from sentiment_devtools.stack.postgres import LocalPostgres, database_name
from sentiment_devtools.stack.supervisor import Process, Supervisor
from sentiment_devtools.system import API_HOST, ARMS, FRONTEND_HOST

DATABASES = ("sqlite", "postgres")
# How long Envoy may take to drop a drained endpoint, or take one back: a state it reaches in milliseconds.
ENDPOINTS_SECONDS = 30.0


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
        database: str = "sqlite",
        postgres_dir: Path | None = None,
        access_log: bool = True,
    ) -> None:
        """database: "sqlite", or "postgres" with its server's folder in postgres_dir (default <state_dir>/postgres),
        which the postgres user must reach when we are root. access_log: Envoy logs every request to
        <state_dir>/envoy/access.log (Istio's default mesh logs none)."""
        if database not in DATABASES:
            raise ValueError(f"database must be one of {DATABASES}, not {database!r}")
        self.release = release
        self.state_dir = state_dir
        self.k8s_dir = k8s_dir
        self.ports = ports or Ports.default()
        self.tls = tls
        self.access_log = access_log
        postgres_dir = postgres_dir or state_dir.resolve() / "postgres"
        self.postgres = LocalPostgres(postgres_dir, self.ports.postgres) if database == "postgres" else None
        urls = None
        if self.postgres is not None:
            self.postgres.prepare()  # the passwords the URLs carry, made once
            urls = {version: self.postgres.url(database_name(version)) for version in versions}
        self.instances = local_topology(release, state_dir, self.ports, tls, versions, running_id(k8s_dir), urls)
        self.supervisor = Supervisor(log_dir)
        if self.postgres is not None:
            self.supervisor.stop_last = (self.postgres.name,)  # the app-services close their connections first
        self.endpoints: Endpoints | None = None

    @property
    def frontend_url(self) -> str:
        return public_url(FRONTEND_HOST, self.ports, self.tls)

    @property
    def api_url(self) -> str:
        return public_url(API_HOST, self.ports, self.tls)

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.envoy_admin}"

    def instance(self, service: str, version: str, replica: int = 1) -> Instance:
        return next(i for i in self.instances if i.service == service and i.version == version and i.replica == replica)

    def replicas(self, service: str, version: str) -> list[Instance]:
        return [i for i in self.instances if i.service == service and i.version == version]

    def start(self, timeout_seconds: float = 90.0) -> None:
        """Compile the mesh (it fails fast on a bad manifest), then start everything and wait until ready."""
        envoy = self._envoy(self.k8s_dir)
        try:
            if self.postgres is not None:
                self.supervisor.start(self.postgres.process())
                self.supervisor.wait_ready(timeout_seconds, names=[self.postgres.name])
                self.postgres.create_databases(tuple(dict.fromkeys(i.version for i in self.instances)))
            for instance in self.instances:
                self.supervisor.start(
                    Process(instance.name, [sys.executable, *instance.command], instance.env, f"{instance.url}/readyz")
                )
            self.supervisor.start(envoy)
            self.supervisor.wait_ready(timeout_seconds)
        except BaseException:
            self.stop()
            raise

    def restart(self, name: str, sig: signal.Signals | None = None) -> None:
        """Stop one process (by its stop signal; SIGKILL to crash it), start it again and wait until it is ready."""
        self.supervisor.stop(name, sig)
        self.supervisor.start(self.supervisor.process(name))
        self.supervisor.wait_ready(names=[name])

    def drain(self, name: str) -> None:
        """Take a service process out of Envoy's endpoints, and wait until Envoy sends it nothing new."""
        address = self._address(name)
        assert self.endpoints is not None
        self.endpoints.drain(address)
        wait_for_hosts(self.admin_url, self.endpoints.clusters_of(address), address, False, ENDPOINTS_SECONDS)

    def restore(self, name: str) -> None:
        """Put a drained process back into Envoy's endpoints, and wait until Envoy balances over it again."""
        address = self._address(name)
        assert self.endpoints is not None
        self.endpoints.restore(address)
        wait_for_hosts(self.admin_url, self.endpoints.clusters_of(address), address, True, ENDPOINTS_SECONDS)

    def rolling_restart(self, name: str) -> None:
        """Replace one process as a rolling update replaces a pod: drained, SIGTERM, started, ready, restored."""
        self.drain(name)
        self.restart(name, signal.SIGTERM)
        self.restore(name)

    def rebuild_mesh(self, k8s_dir: Path) -> None:
        """Recompile Envoy's configuration from another k8s/ folder and restart Envoy on it."""
        self.k8s_dir = k8s_dir
        envoy = self._envoy(k8s_dir)
        self.supervisor.stop("envoy")
        self.supervisor.start(envoy)
        self.supervisor.wait_ready(names=["envoy"])

    def stop(self) -> None:
        self.supervisor.stop_all(self.supervisor.stop_last)

    def _envoy(self, k8s_dir: Path) -> Process:
        config = compiled_config(k8s_dir, self.instances, self.ports, self.state_dir, self.tls, self.access_log)
        self.endpoints = Endpoints(config, self.state_dir / "envoy" / "endpoints")
        return envoy_process_for(config, self.ports, self.state_dir)

    def _address(self, name: str) -> tuple[str, int]:
        """Where the mesh reaches the process: its inbound listener, as a pod's address reaches its sidecar."""
        instance = next(i for i in self.instances if i.name == name)
        return ("127.0.0.1", self.ports.inbound[instance.port])

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
