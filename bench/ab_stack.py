"""One side of `python -m bench.ab`: starts this tree's system for the benchmark and holds it.

Run by the side's own interpreter from the side's own checkout (so it runs that
checkout's code); prints one JSON line with the targets and the pids whose CPU
time and memory are counted, then keeps the system up until its standard input
closes, timing a start-up of each service its standard input names (one JSON
line each: seconds to ready, CPU seconds until then).
Only what every earlier checkout's bench/system.py has is used, so a side may
be any commit since the benchmark learnt the mesh.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

from sentiment_devtools.stack.model_release import LocalRelease

from bench.startup import time_to_ready
from bench.system import full_path_target, k8s_without_rate_limit, model_service_target, start_system

# Spelled here, not imported from bench.system: this file runs against older checkouts, whose bench.system may
# not name them.
MEASURED = ("model-service/stable", "app-service/stable", "envoy", "app-frontend/stable")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.ab_stack")
    parser.add_argument("--release", type=Path, required=True, help="the release folder both sides serve")
    parser.add_argument("--version", required=True)
    parser.add_argument("--sha256", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    arguments = parser.parse_args()
    shutil.rmtree(arguments.state_dir, ignore_errors=True)
    arguments.state_dir.mkdir(parents=True)
    release = LocalRelease(arguments.release, arguments.version, arguments.sha256)
    k8s_dir = k8s_without_rate_limit(Path("k8s"), arguments.state_dir)
    stack = start_system(release, arguments.state_dir / "system", k8s_dir)
    try:
        targets = {"predict": model_service_target(stack), "full": full_path_target(stack)}
        pids = {name: stack.supervisor.process(name).popen.pid for name in MEASURED}
        ready = {"targets": {key: vars(target) for key, target in targets.items()}, "pids": pids}
        print(json.dumps(ready), flush=True)
        for line in sys.stdin:
            wall, cpu = time_to_ready(stack.instance(line.strip(), "stable"), arguments.state_dir)
            print(json.dumps({"seconds": wall, "cpu_seconds": cpu}), flush=True)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
