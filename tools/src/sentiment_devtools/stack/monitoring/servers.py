"""The three monitoring servers on 127.0.0.1: their configuration files, and the processes to supervise.

Debian's packages provide the binaries (`make system-deps`): `prometheus` and
`prometheus-alertmanager`. The SMTP sink is this package's mail_sink.
"""

import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from sentiment_devtools.stack.monitoring.config import (
    RouteTiming,
    local_alertmanager_config,
    prometheus_config,
    rule_groups,
)
from sentiment_devtools.stack.supervisor import Process
from sentiment_devtools.system import LOCAL_ALERTMANAGER_PORT, LOCAL_PROMETHEUS_PORT, LOCAL_SMTP_PORT

BINARIES = {"prometheus": "prometheus", "alertmanager": "prometheus-alertmanager"}


@dataclass(frozen=True)
class Ports:
    prometheus: int = LOCAL_PROMETHEUS_PORT
    alertmanager: int = LOCAL_ALERTMANAGER_PORT
    smtp: int = LOCAL_SMTP_PORT

    def shifted(self, offset: int) -> "Ports":
        return Ports(self.prometheus + offset, self.alertmanager + offset, self.smtp + offset)

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.alertmanager}"


def missing_binaries() -> list[str]:
    """The Debian packages to install before monitoring can run."""
    return [package for package in BINARIES.values() if shutil.which(package) is None]


def configure(
    folder: Path,
    documents: list[dict],
    targets: Mapping[str, Mapping[str, str | list[str]]],
    ports: Ports,
    interval: str,
    timing: RouteTiming | None = None,
    gateway: str | None = None,
) -> list[Process]:
    """Write the configuration into `folder` and return the servers to start, sink first.

    targets: service -> version -> "127.0.0.1:port" or a list (scraped every `interval`,
    as the rules are evaluated); timing: see local_alertmanager_config; gateway:
    the Envoy admin "127.0.0.1:port" scraped as the gateway (config.scrape_jobs).
    """
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    rules_file = folder / "rules.yml"
    rules_file.write_text(yaml.safe_dump(rule_groups(documents), sort_keys=False))
    alertmanager = f"127.0.0.1:{ports.alertmanager}"
    (folder / "prometheus.yml").write_text(
        yaml.safe_dump(
            prometheus_config(documents, targets, str(rules_file), alertmanager, interval, gateway), sort_keys=False
        )
    )
    (folder / "alertmanager.yml").write_text(
        yaml.safe_dump(local_alertmanager_config(documents, f"127.0.0.1:{ports.smtp}", timing), sort_keys=False)
    )
    return [
        mail_sink_server(folder / "mail", ports.smtp),
        alertmanager_server(folder / "alertmanager.yml", folder / "alertmanager-data", ports.alertmanager),
        prometheus_server(folder / "prometheus.yml", folder / "prometheus-data", ports.prometheus),
    ]


def prometheus_server(config_file: Path, data_dir: Path, port: int) -> Process:
    url = f"http://127.0.0.1:{port}"
    command = [
        BINARIES["prometheus"],
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    return Process("prometheus", command, ready_url=f"{url}/-/ready")


def alertmanager_server(config_file: Path, data_dir: Path, port: int) -> Process:
    url = f"http://127.0.0.1:{port}"
    command = [
        BINARIES["alertmanager"],
        f"--config.file={config_file}",
        f"--storage.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={url}",
        "--cluster.listen-address=",  # no gossip port: one Alertmanager, alone
        "--log.level=warn",
    ]
    return Process("alertmanager", command, ready_url=f"{url}/-/ready")


def mail_sink_server(maildir: Path, port: int) -> Process:
    """Ready once it accepts SMTP connections."""
    command = [
        sys.executable,
        "-m",
        "sentiment_devtools.stack.monitoring.mail_sink",
        "--port",
        str(port),
        "--maildir",
        str(maildir),
    ]
    return Process("mail-sink", command, ready_url=f"smtp://127.0.0.1:{port}")
