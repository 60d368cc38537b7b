"""What `make run` adds when Prometheus and Alertmanager are installed: the three monitoring servers."""

from dataclasses import dataclass, field
from pathlib import Path

from k8scheck.render import render
from localstack.supervisor import Process
from localstack.topology import Instance

from localmonitoring.servers import Ports, configure, missing_binaries

K8S = Path(__file__).resolve().parents[3] / "k8s"
PORTS = Ports(prometheus=9090, alertmanager=9093, smtp=8025)
# Slower than the tests' 1s, quicker than the cluster's 15s: a graph moves while you click.
INTERVAL = "5s"


@dataclass(frozen=True)
class LocalMonitoring:
    processes: list[Process] = field(default_factory=list)
    banner: str = ""


def local_monitoring(
    instances: list[Instance], state_dir: Path, port_offset: int = 0, enabled: bool = True
) -> LocalMonitoring:
    """The processes to start beside the instances, and the lines to print once they are ready."""
    if not enabled:
        return LocalMonitoring()
    missing = missing_binaries()
    if missing:
        return LocalMonitoring(
            banner=f"  No monitoring: install it with `sudo apt-get install {' '.join(missing)}` (or make system-deps)"
        )
    ports = Ports(*(port + port_offset for port in (PORTS.prometheus, PORTS.alertmanager, PORTS.smtp)))
    targets: dict[str, dict[str, str]] = {}
    for instance in instances:
        targets.setdefault(instance.service, {})[instance.version] = f"127.0.0.1:{instance.port}"
    documents = render(K8S, example_secrets=True)  # the rules and routes; no secret is used locally
    folder = state_dir / "monitoring"
    servers = configure(folder, documents, targets, ports, INTERVAL)
    processes = [Process(s.name, s.command, {}, s.ready_url) for s in servers]
    prometheus, alertmanager = servers[2].url, servers[1].url
    banner = (
        f"  Prometheus: {prometheus}  (make experiment-report PROMETHEUS_URL={prometheus})\n"
        f"  Alertmanager: {alertmanager}  (alert e-mails land in {folder.resolve() / 'mail'})"
    )
    return LocalMonitoring(processes, banner)
