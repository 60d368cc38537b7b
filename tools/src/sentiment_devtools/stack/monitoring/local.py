"""What `make run` adds when Prometheus and Alertmanager are installed: the three monitoring servers."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sentiment_devtools.manifests.render import render
from sentiment_devtools.stack.monitoring.servers import Ports, configure, missing_binaries
from sentiment_devtools.stack.supervisor import Process

# Slower than the tests' 1s, quicker than the cluster's 15s: a graph moves while you click.
INTERVAL = "5s"


@dataclass(frozen=True)
class LocalMonitoring:
    processes: list[Process] = field(default_factory=list)
    banner: str = ""


def local_monitoring(
    k8s_dir: Path,
    targets: Mapping[str, Mapping[str, str | list[str]]],
    state_dir: Path,
    port_offset: int = 0,
    enabled: bool = True,
    gateway: str | None = None,
) -> LocalMonitoring:
    """The processes to start beside the services, and the lines to print once they are ready.

    targets: service -> version -> "127.0.0.1:port" or a list of them (replicas), what Prometheus scrapes;
    gateway: Envoy's admin address, scraped as the gateway.
    """
    if not enabled:
        return LocalMonitoring()
    missing = missing_binaries()
    if missing:
        return LocalMonitoring(
            banner=f"  No monitoring: install it with `sudo apt-get install {' '.join(missing)}` (or make system-deps)"
        )
    ports = Ports().shifted(port_offset)
    documents = render(k8s_dir, example_secrets=True)  # the rules and routes; no secret is used locally
    folder = state_dir / "monitoring"
    processes = configure(folder, documents, targets, ports, INTERVAL, gateway=gateway)
    banner = (
        f"  Prometheus: {ports.prometheus_url}  (make experiment-report PROMETHEUS_URL={ports.prometheus_url})\n"
        f"  Alertmanager: {ports.alertmanager_url}  (alert e-mails land in {folder.resolve() / 'mail'})"
    )
    return LocalMonitoring(processes, banner)
