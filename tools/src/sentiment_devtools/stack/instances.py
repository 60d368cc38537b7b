"""What `make run` starts: every (service, version) with its port and environment.

The services are wired the way the mesh wires them in a cluster: the browser
talks to Envoy's ingress listener only, under the `*.localhost` twins of the
public hosts; each app-service calls the model-service through its own
outbound listener (its "sidecar"), which routes by the caller's version.
Every hop between Envoy's listeners is mutual TLS: each service process is
reached through its own inbound listener (its sidecar's inbound side). The
canary turns its feature flag on: it shows the model's confidence.

Each arm's reviews are in its own SQLite file (one app-service per arm), or,
with a PostgreSQL server, in the arm's own database of that server, which two
app-service replicas per arm share, as the cluster runs them.
"""

import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from sentiment_devtools import system
from sentiment_devtools.stack.model_release import LocalRelease
from sentiment_devtools.system import API_HOST, ARMS, CANARY, FRONTEND_HOST, SERVICES


@dataclass(frozen=True)
class Ports:
    """Every port the local system listens on, all on 127.0.0.1."""

    services: dict[tuple[str, str], int]
    ingress: int
    ingress_tls: int
    envoy_admin: int
    # The outbound listener of each app-service version, towards the model-service.
    sidecars: dict[str, int]
    # With PostgreSQL: the second app-service replica of each version, and the server.
    second_app_services: dict[str, int]
    postgres: int
    # The inbound listener in front of each service process, by the process's port: its sidecar, mTLS and its
    # AuthorizationPolicy.
    inbound: dict[int, int]

    def inbound_of(self, service: str, version: str) -> int:
        """The inbound listener of the service's (first) process of that version."""
        return self.inbound[self.services[(service, version)]]

    @classmethod
    def default(cls) -> "Ports":
        """The documented ports (docs/architecture.md): what `make run` uses."""
        services = {(service, version): port + index for service, port in system.LOCAL_SERVICE_PORTS.items()
                    for index, version in enumerate(ARMS)}  # fmt: skip
        process_ports = [*services.values(), *system.LOCAL_SECOND_APP_SERVICE_PORTS.values()]
        return cls(
            services=services,
            ingress=system.LOCAL_INGRESS_PORT,
            ingress_tls=system.LOCAL_INGRESS_TLS_PORT,
            envoy_admin=system.LOCAL_ENVOY_ADMIN_PORT,
            sidecars=dict(system.LOCAL_SIDECAR_PORTS),
            second_app_services=dict(system.LOCAL_SECOND_APP_SERVICE_PORTS),
            postgres=system.LOCAL_POSTGRES_PORT,
            inbound={port: port + system.LOCAL_INBOUND_PORT_OFFSET for port in process_ports},
        )  # fmt: skip

    def shifted(self, offset: int) -> "Ports":
        """The same layout moved by `offset`, e.g. to run a second system beside the first."""
        return Ports(
            services={key: port + offset for key, port in self.services.items()},
            ingress=self.ingress + offset,
            ingress_tls=self.ingress_tls + offset,
            envoy_admin=self.envoy_admin + offset,
            sidecars={version: port + offset for version, port in self.sidecars.items()},
            second_app_services={version: port + offset for version, port in self.second_app_services.items()},
            postgres=self.postgres + offset,
            inbound={process + offset: port + offset for process, port in self.inbound.items()},
        )

    @classmethod
    def free(cls) -> "Ports":
        """Ports nobody listens on right now, so tests never meet a developer's `make run`."""
        keys = [(service, version) for service in SERVICES for version in ARMS]
        ports = iter(_free_ports(2 * (len(keys) + len(ARMS)) + 4 + len(ARMS)))
        services = {key: next(ports) for key in keys}
        second_app_services = {version: next(ports) for version in ARMS}
        return cls(
            services=services,
            ingress=next(ports),
            ingress_tls=next(ports),
            envoy_admin=next(ports),
            sidecars={version: next(ports) for version in ARMS},
            second_app_services=second_app_services,
            postgres=next(ports),
            inbound={port: next(ports) for port in [*services.values(), *second_app_services.values()]},
        )


@dataclass(frozen=True)
class Instance:
    service: str
    version: str
    port: int
    env: dict[str, str]
    replica: int = 1  # the first of its version, or the second (an app-service on PostgreSQL)

    @property
    def name(self) -> str:
        """`app-service/stable`, and `app-service/stable/2` for a second replica."""
        return f"{self.service}/{self.version}" + (f"/{self.replica}" if self.replica > 1 else "")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def command(self) -> list[str]:
        return ["-m", self.service.replace("-", "_"), "serve"]


def public_url(host: str, ports: Ports, tls: bool) -> str:
    return f"https://{host}:{ports.ingress_tls}" if tls else f"http://{host}:{ports.ingress}"


def local_topology(
    release: LocalRelease,
    state_dir: Path,
    ports: Ports,
    tls: bool = False,
    versions: tuple[str, ...] = ARMS,
    experiment_id: str = "",
    database_urls: dict[str, str] | None = None,
) -> list[Instance]:
    """database_urls: each version's PostgreSQL database, which two app-service replicas share; None for SQLite."""
    state_dir = state_dir.resolve()
    export_key = _export_api_key(state_dir / "export-api-key")
    instances: list[Instance] = []
    for version in versions:
        feature_flag = "true" if version == CANARY else "false"
        common = {"APP_VERSION": version, "HOST": "127.0.0.1"}

        def port(service: str, version: str = version) -> int:
            return ports.services[(service, version)]

        if database_urls is None:
            database_url = f"sqlite:///{state_dir / f'app-service-{version}' / 'reviews.db'}"
            app_ports = [port("app-service")]
        else:
            database_url = database_urls[version]
            app_ports = [port("app-service"), ports.second_app_services[version]]

        instances += [
            Instance("model-service", version, port("model-service"), {
                **common,
                "PORT": str(port("model-service")),
                "MODEL_VERSION": release.version,
                "MODEL_SHA256": release.sha256,
                "MODEL_URL_TEMPLATE": release.url_template,
                "MODEL_CACHE_DIR": str(state_dir / "model-cache"),
            }),
            *(Instance("app-service", version, app_port, {
                **common,
                "PORT": str(app_port),
                # Its sidecar, which sends it to the model-service of its own version.
                "MODEL_SERVICE_URL": f"http://127.0.0.1:{ports.sidecars[version]}",
                "DATABASE_URL": database_url,
                "EXPORT_API_KEY": export_key,
                "CORS_ALLOWED_ORIGINS": public_url(FRONTEND_HOST, ports, tls),
                "SHOW_CONFIDENCE": feature_flag,
                # The running experiment of k8s/experiments/, as each arm's configuration names it there.
                "EXPERIMENT_ID": experiment_id,
            }, replica) for replica, app_port in enumerate(app_ports, start=1)),
            Instance("app-frontend", version, port("app-frontend"), {
                **common,
                "PORT": str(port("app-frontend")),
                "APP_SERVICE_PUBLIC_URL": public_url(API_HOST, ports, tls),
                "SHOW_CONFIDENCE": feature_flag,
                # Envoy, compiled from the frontend's VirtualService, sets the cookie.
                "SET_VERSION_COOKIE": "false",
            }),
        ]  # fmt: skip
    return instances


def _export_api_key(path: Path) -> str:
    """A random key for this machine's export, made once and kept in var/ (never in git)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _free_ports(count: int) -> list[int]:
    """Distinct free ports: all probes stay open until every port is picked."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()
