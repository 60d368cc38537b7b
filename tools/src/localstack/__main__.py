"""`make run`: train a model release if needed, start the services, print where to look."""

import argparse
import sys
from pathlib import Path

from localmonitoring.make_run import local_monitoring

from localstack.model_release import ensure_release
from localstack.supervisor import Process, Supervisor
from localstack.topology import VERSIONS, local_topology


def main() -> int:
    parser = argparse.ArgumentParser(prog="localstack", description=__doc__)
    parser.add_argument("--data", type=Path, help="train the model on this TSV instead of the public data")
    parser.add_argument("--model-version", default="v1.0.0")
    parser.add_argument("--state-dir", type=Path, default=Path("var"), help="where releases, caches and logs live")
    parser.add_argument(
        "--versions", default=",".join(VERSIONS), help="the arms to start, comma-separated (default: stable,canary)"
    )
    parser.add_argument("--port-offset", type=int, default=0, help="added to every port (default ports: 8101-8302)")
    parser.add_argument("--no-monitoring", action="store_true", help="do not start Prometheus and Alertmanager")
    arguments = parser.parse_args()
    versions = tuple(version for version in VERSIONS if version in arguments.versions.split(","))
    if not versions:
        parser.error(f"--versions must name stable and/or canary, not {arguments.versions!r}")

    release = ensure_release(arguments.state_dir / "releases", arguments.model_version, arguments.data)
    instances = local_topology(release, arguments.state_dir, versions, arguments.port_offset)
    monitoring = local_monitoring(instances, arguments.state_dir, arguments.port_offset, not arguments.no_monitoring)
    supervisor = Supervisor()
    for process in monitoring.processes:
        supervisor.start(process)
    for instance in instances:
        supervisor.start(
            Process(
                name=instance.name,
                command=[sys.executable, *instance.command],
                env=instance.env,
                ready_url=f"{instance.url}/readyz",
            )
        )
    try:
        supervisor.wait_ready()
    except (RuntimeError, KeyboardInterrupt) as error:
        supervisor.stop_all()
        print(f"localstack: {error or 'interrupted'}", file=sys.stderr)
        return 1
    frontends = {i.version: i.url for i in instances if i.service == "app-frontend"}
    first, *others = frontends
    also = "".join(f"; {version}: {frontends[version]}" for version in others)
    print(f"\n  Sentiment Canary is ready: open {frontends[first]}  ({first}{also}; Ctrl-C stops)", flush=True)
    print(f"{monitoring.banner}\n", flush=True)
    return supervisor.run_until_interrupted()


if __name__ == "__main__":
    raise SystemExit(main())
