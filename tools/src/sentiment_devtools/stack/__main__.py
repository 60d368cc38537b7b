"""`make run`: train a model release if needed, start the whole system, print where to look.

Both versions of the three services start on 127.0.0.1, behind Envoy
configured from the Istio manifests in k8s/ (docs/local-mesh.md), with
Prometheus, Alertmanager and a mail sink beside them when they are installed.
With --database postgres, a local PostgreSQL server under var/postgres/ holds
each arm's reviews, and each arm runs two app-service replicas on it.
"""

import argparse
import sys
from pathlib import Path

from sentiment_devtools.stack.envoy import MeshError
from sentiment_devtools.stack.instances import Ports
from sentiment_devtools.stack.model_release import ensure_release
from sentiment_devtools.stack.monitoring.local import local_monitoring
from sentiment_devtools.stack.stack import DATABASES, LocalStack


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_devtools.stack", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="train the model on this TSV instead of the public data")
    parser.add_argument("--model-version", default="v1.0.0")
    parser.add_argument("--state-dir", type=Path, default=Path("var"), help="where releases, caches and logs live")
    parser.add_argument("--k8s-dir", type=Path, default=Path("k8s"), help="the manifests Envoy is compiled from")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    parser.add_argument("--port-offset", type=int, default=0, help="added to every port (default ports: 8080-9901)")
    parser.add_argument("--no-monitoring", action="store_true", help="do not start Prometheus and Alertmanager")
    parser.add_argument(
        "--database", choices=DATABASES, default="sqlite",
        help="sqlite: a file per arm, one app-service each (default); postgres: a local server, two replicas per arm",
    )  # fmt: skip
    arguments = parser.parse_args()

    release = ensure_release(arguments.state_dir / "releases", arguments.model_version, arguments.data)
    stack = LocalStack(
        release,
        arguments.state_dir,
        k8s_dir=arguments.k8s_dir,
        ports=Ports.default().shifted(arguments.port_offset),
        tls=arguments.tls,
        database=arguments.database,
    )
    targets: dict[str, dict[str, list[str]]] = {}
    for instance in stack.instances:
        targets.setdefault(instance.service, {}).setdefault(instance.version, []).append(f"127.0.0.1:{instance.port}")
    monitoring = local_monitoring(
        arguments.k8s_dir,
        targets,
        arguments.state_dir,
        arguments.port_offset,
        not arguments.no_monitoring,
        gateway=f"127.0.0.1:{stack.ports.envoy_admin}",
    )
    stack.supervisor.handle_interrupts()
    for process in monitoring.processes:
        stack.supervisor.start(process)
    try:
        stack.start()
    except (MeshError, RuntimeError, KeyboardInterrupt) as error:
        stack.stop()
        print(f"stack: {error or 'interrupted'}", file=sys.stderr)
        return 1
    print(
        f"\n  Sentiment Canary is ready: open {stack.frontend_url}/\n"
        f"  (API {stack.api_url}, Envoy admin {stack.admin_url}; Ctrl-C stops)\n{monitoring.banner}\n",
        flush=True,
    )
    return stack.supervisor.run_until_interrupted()


if __name__ == "__main__":
    raise SystemExit(main())
