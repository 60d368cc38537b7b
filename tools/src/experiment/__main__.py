"""`python -m experiment`: print the experiment's report from a Prometheus and draw its chart."""

import argparse
import sys
from pathlib import Path

from experiment.chart import draw
from experiment.decision import analyse
from experiment.prometheus import QueryError, read_arms
from experiment.text import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiment", description=__doc__.splitlines()[0][3:])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090", help="the Prometheus URL")
    parser.add_argument("--namespace", default="sentiment", help="the namespace label of the experiment's series")
    parser.add_argument(
        "--window", default="7d", help="how far back the experiment goes, a PromQL duration (default 7d): "
        "set it to the time since the canary rolled out",
    )  # fmt: skip
    parser.add_argument("--at", type=float, help="the window's end, Unix seconds (default: now)")
    parser.add_argument("--chart", type=Path, default=Path("var/experiment-report.png"), help="where to draw the PNG")
    arguments = parser.parse_args(argv)
    try:
        arms = read_arms(arguments.prometheus, arguments.namespace, arguments.window, arguments.at)
    except QueryError as error:
        print(f"experiment: {error}", file=sys.stderr)
        return 1
    analysis = analyse(arms["stable"], arms["canary"])
    source = f"{arguments.prometheus}, namespace {arguments.namespace}, last {arguments.window}"
    sys.stdout.write(render(analysis, source))
    print(f"\n  chart: {draw(analysis, arguments.chart)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
