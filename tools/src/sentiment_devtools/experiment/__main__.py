"""`make experiment-report`: print the declared experiment's report from a Prometheus and draw its chart.

`python -m sentiment_devtools.experiment [--declaration FILE] --prometheus URL`: by default the experiment
k8s/experiments/ says runs.
"""

import argparse
import sys
import time
from pathlib import Path

from sentiment_devtools.experiment.chart import draw
from sentiment_devtools.experiment.declaration import DeclarationError, load, running
from sentiment_devtools.experiment.prometheus import QueryError, read_arms
from sentiment_devtools.experiment.report import analyse
from sentiment_devtools.experiment.text import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sentiment_devtools.experiment", description=__doc__.splitlines()[0].partition(": ")[2]
    )
    parser.add_argument("--declaration", type=Path, help="the experiment's declaration (YAML; default: the running "
                        "one of K8S_DIR/experiments/)")  # fmt: skip
    parser.add_argument("--k8s-dir", type=Path, default=Path("k8s"), help="the manifests declaring the experiments")
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090", help="the Prometheus URL")
    parser.add_argument("--namespace", default="sentiment", help="the namespace label of the experiment's series")
    parser.add_argument("--at", type=float, help="the look's time, Unix seconds (default: now); the window starts "
                        "at the declared start")  # fmt: skip
    parser.add_argument("--chart", type=Path, default=Path("var/experiment-report.png"), help="where to draw the PNG")
    arguments = parser.parse_args(argv)
    at = time.time() if arguments.at is None else arguments.at
    try:
        declaration = running(arguments.k8s_dir) if arguments.declaration is None else load(arguments.declaration)
        window = at - declaration.start.timestamp()
        if window <= 0:
            raise DeclarationError(f"{declaration.id} starts at {declaration.start.isoformat()}, after the look")
        arms = read_arms(arguments.prometheus, arguments.namespace, window, at)
    except (DeclarationError, QueryError) as error:
        print(f"experiment: {error}", file=sys.stderr)
        return 1
    report = analyse(declaration, arms["stable"], arms["canary"])
    sys.stdout.write(render(report, f"{arguments.prometheus}, namespace {arguments.namespace}"))
    print(f"\n  chart: {draw(report, arguments.chart)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
