"""What `make run` starts: every (service, version) with its port and environment.

Each version is a chain of its own (frontend -> app-service -> model-service of
the same arm), as the mesh would route a visitor who holds that arm's cookie.
The canary turns its feature flag on: it shows the model's confidence.
"""

import secrets
from dataclasses import dataclass
from pathlib import Path

from localstack.model_release import LocalRelease

VERSIONS = ("stable", "canary")
PORTS = {
    "model-service": {"stable": 8101, "canary": 8102},
    "app-service": {"stable": 8201, "canary": 8202},
    "app-frontend": {"stable": 8301, "canary": 8302},
}


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


def local_topology(
    release: LocalRelease, state_dir: Path, versions: tuple[str, ...], port_offset: int = 0
) -> list[Instance]:
    state_dir = state_dir.resolve()
    export_key = _export_api_key(state_dir / "export-api-key")
    frontend_origins = [
        f"http://{host}:{PORTS['app-frontend'][version] + port_offset}"
        for version in VERSIONS
        for host in ("127.0.0.1", "localhost")
    ]
    instances: list[Instance] = []
    for version in versions:
        ports = {service: by_version[version] + port_offset for service, by_version in PORTS.items()}
        feature_flag = "true" if version == "canary" else "false"
        common = {"APP_VERSION": version, "HOST": "127.0.0.1"}
        instances += [
            Instance("model-service", version, ports["model-service"], {
                **common,
                "PORT": str(ports["model-service"]),
                "MODEL_VERSION": release.version,
                "MODEL_SHA256": release.sha256,
                "MODEL_URL_TEMPLATE": release.url_template,
                "MODEL_CACHE_DIR": str(state_dir / "model-cache"),
            }),
            Instance("app-service", version, ports["app-service"], {
                **common,
                "PORT": str(ports["app-service"]),
                "MODEL_SERVICE_URL": f"http://127.0.0.1:{ports['model-service']}",
                "DATABASE_URL": f"sqlite:///{state_dir / f'app-service-{version}' / 'reviews.db'}",
                "EXPORT_API_KEY": export_key,
                "CORS_ALLOWED_ORIGINS": ",".join(frontend_origins),
                "SHOW_CONFIDENCE": feature_flag,
            }),
            Instance("app-frontend", version, ports["app-frontend"], {
                **common,
                "PORT": str(ports["app-frontend"]),
                "APP_SERVICE_PUBLIC_URL": f"http://127.0.0.1:{ports['app-service']}",
                "SHOW_CONFIDENCE": feature_flag,
                "SET_VERSION_COOKIE": "true",  # no mesh in front to set it
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
