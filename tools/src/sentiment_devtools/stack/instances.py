"""What `make run` starts: every (service, version) with its port and environment.

The services are wired the way the mesh wires them in a cluster: the browser
talks to Envoy's ingress listener only, under the `*.localhost` twins of the
public hosts; each app-service calls the model-service through its own
outbound listener (its "sidecar"), which routes by the caller's version.
Every hop between Envoy's listeners is mutual TLS: each service is reached
through its own inbound listener (its sidecar's inbound side). The canary turns its feature flag on: it shows the
model's confidence.
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
    # The inbound listener of each (service, version): its sidecar, mTLS and its AuthorizationPolicy.
    inbound: dict[tuple[str, str], int]

    @classmethod
    def default(cls) -> "Ports":
        """The documented ports (docs/architecture.md): what `make run` uses."""
        return cls(
            services={(service, version): port + index for service, port in system.LOCAL_SERVICE_PORTS.items()
                      for index, version in enumerate(ARMS)},
            ingress=system.LOCAL_INGRESS_PORT,
            ingress_tls=system.LOCAL_INGRESS_TLS_PORT,
            envoy_admin=system.LOCAL_ENVOY_ADMIN_PORT,
            sidecars=dict(system.LOCAL_SIDECAR_PORTS),
            inbound={(service, version): port + index for service, port in system.LOCAL_INBOUND_PORTS.items()
                     for index, version in enumerate(ARMS)},
        )  # fmt: skip

    def shifted(self, offset: int) -> "Ports":
        """The same layout moved by `offset`, e.g. to run a second system beside the first."""
        return Ports(
            services={key: port + offset for key, port in self.services.items()},
            ingress=self.ingress + offset,
            ingress_tls=self.ingress_tls + offset,
            envoy_admin=self.envoy_admin + offset,
            sidecars={version: port + offset for version, port in self.sidecars.items()},
            inbound={key: port + offset for key, port in self.inbound.items()},
        )

    @classmethod
    def free(cls) -> "Ports":
        """Ports nobody listens on right now, so tests never meet a developer's `make run`."""
        keys = [(service, version) for service in SERVICES for version in ARMS]
        ports = iter(_free_ports(2 * len(keys) + 3 + len(ARMS)))
        return cls(
            services={key: next(ports) for key in keys},
            ingress=next(ports),
            ingress_tls=next(ports),
            envoy_admin=next(ports),
            sidecars={version: next(ports) for version in ARMS},
            inbound={key: next(ports) for key in keys},
        )


@dataclass(frozen=True)
class Instance:
    service: str
    version: str
    port: int
    env: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.service}/{self.version}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def command(self) -> list[str]:
        return ["-m", self.service.replace("-", "_"), "serve"]


def public_url(host: str, ports: Ports, tls: bool) -> str:
    return f"https://{host}:{ports.ingress_tls}" if tls else f"http://{host}:{ports.ingress}"


def local_topology(
    release: LocalRelease, state_dir: Path, ports: Ports, tls: bool = False, versions: tuple[str, ...] = ARMS
) -> list[Instance]:
    state_dir = state_dir.resolve()
    export_key = _export_api_key(state_dir / "export-api-key")
    instances: list[Instance] = []
    for version in versions:
        feature_flag = "true" if version == CANARY else "false"
        common = {"APP_VERSION": version, "HOST": "127.0.0.1"}

        def port(service: str, version: str = version) -> int:
            return ports.services[(service, version)]

        instances += [
            Instance("model-service", version, port("model-service"), {
                **common,
                "PORT": str(port("model-service")),
                "MODEL_VERSION": release.version,
                "MODEL_SHA256": release.sha256,
                "MODEL_URL_TEMPLATE": release.url_template,
                "MODEL_CACHE_DIR": str(state_dir / "model-cache"),
            }),
            Instance("app-service", version, port("app-service"), {
                **common,
                "PORT": str(port("app-service")),
                # Its sidecar, which sends it to the model-service of its own version.
                "MODEL_SERVICE_URL": f"http://127.0.0.1:{ports.sidecars[version]}",
                "DATABASE_URL": f"sqlite:///{state_dir / f'app-service-{version}' / 'reviews.db'}",
                "EXPORT_API_KEY": export_key,
                "CORS_ALLOWED_ORIGINS": public_url(FRONTEND_HOST, ports, tls),
                "SHOW_CONFIDENCE": feature_flag,
            }),
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
