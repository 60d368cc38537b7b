"""`python -m bench.ab BEFORE`: this checkout against another, on one machine, at the same time.

A figure measured an hour apart on a shared machine moves by 5-15% on its own
(docs/performance.md), more than some of the changes it is meant to judge. So
both systems run side by side, each its own checkout's code, serving the same
release, and the loads alternate between them, the side that goes first
swapping every run (each run's start-ups go first, second, second, first):
whatever else the machine does falls on both alike. Each
figure is the median of the runs; the ratio after/before is printed beside it.

    python -m bench.ab ../before [--data reviews.tsv] [--runs 5] [--seconds 5]

BEFORE is a checkout (a `git worktree add ../before <commit>`) with its own
`make install` done; this checkout's bench/ab_stack.py runs there, on its code.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sentiment_devtools.stack.model_release import ensure_release
from sentiment_devtools.system import SERVICES

from bench.load import Target, read_reviews, run_load, write_bodies
from bench.proc import cpu_seconds_by_name, peak_rss_mib
from bench.system import FULL_PATH, PREDICT

HERE = Path(__file__).resolve().parent
LOADS = (("full", 1), ("full", 8), ("predict", 8))
# The goals of halving the full path's CPU (docs/performance.md): after's median over before's, at most or at least.
GOALS = (
    ("CPU per full-path request, all processes: <= 0.6x before", "full_c8 CPU ms/request: all", 0.6, True),
    ("CPU per full-path request, the app-service's: <= 0.5x before", "full_c8 CPU ms/request: app-service/stable",
     0.5, True),
    ("full path, concurrency 8: >= 1.5x the requests/s", "full_c8 requests/s", 1.5, False),
    ("full path, concurrency 1: p50 <= 0.7x before", "full_c1 p50 ms", 0.7, True),
)  # fmt: skip


@dataclass
class Side:
    name: str
    checkout: Path
    targets: dict[str, Target] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    figures: dict[str, list[float]] = field(default_factory=dict)

    def record(self, key: str, value: float) -> None:
        self.figures.setdefault(key, []).append(value)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the other checkout, with its .venv (make install)")
    parser.add_argument("--data", type=Path, help="reviews TSV: train the release on it and send its reviews")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--releases", type=Path, default=Path("var/releases"))
    parser.add_argument("--model-version", default="v1.0.0")
    parser.add_argument("--out", type=Path, default=Path("bench/ab.json"))
    arguments = parser.parse_args()
    release = ensure_release(arguments.releases.resolve(), arguments.model_version, arguments.data)
    bodies = Path("var/bench-ab-bodies.jsonl").resolve()
    bodies.parent.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet
    write_bodies(read_reviews(arguments.data), bodies)
    sides = [Side("before", arguments.before.resolve()), Side("after", Path.cwd())]
    try:
        for side in sides:
            _start(side, release)
        for side in sides:  # connections opened, caches warm
            for key, _ in LOADS:
                run_load(side.targets[key], bodies, 8, 1)
        for run in range(arguments.runs):
            print(f"bench.ab: run {run + 1} of {arguments.runs} (load average {os.getloadavg()[0]:.1f})", flush=True)
            in_turn = sides if run % 2 == 0 else sides[::-1]
            for key, concurrency in LOADS:
                for side in in_turn:
                    _measure(side, key, concurrency, bodies, arguments.seconds)
        for side in sides:
            for name, pid in side.pids.items():
                side.record(f"peak RSS MiB: {name}", peak_rss_mib(pid))
        for _ in range(arguments.runs):
            for service in SERVICES:
                for side in [*sides, *sides[::-1]]:  # each side as often first as second
                    _time_start_up(side, service)
    finally:
        for side in sides:
            if side.process is not None:
                side.process.stdin.close()
                side.process.wait(timeout=60)
    report = _report(sides)
    print("\n" + report)
    arguments.out.write_text(json.dumps({side.name: side.figures for side in sides}, indent=2) + "\n")
    errors = sum(sum(values) for side in sides for key, values in side.figures.items() if key.endswith("errors"))
    return 0 if errors == 0 else 1


def _start(side: Side, release) -> None:
    print(f"bench.ab: starting {side.name} ({side.checkout})", flush=True)
    command = [
        str(side.checkout / ".venv/bin/python"), str(HERE / "ab_stack.py"),
        "--release", str(release.folder), "--version", release.version, "--sha256", release.sha256,
        "--state-dir", str(side.checkout / "var" / f"bench-ab-{side.name}"),
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(side.checkout)}
    side.process = subprocess.Popen(command, cwd=side.checkout, env=environment, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)  # fmt: skip
    line = side.process.stdout.readline()
    if not line:
        raise SystemExit(f"bench.ab: the {side.name} system did not start (exit {side.process.wait()})")
    ready = json.loads(line)
    side.targets = {key: Target(t["url"], t["path"], t["headers"]) for key, t in ready["targets"].items()}
    side.pids = ready["pids"]


def _time_start_up(side: Side, service: str) -> None:
    side.process.stdin.write(service + "\n")
    side.process.stdin.flush()
    timed = json.loads(side.process.stdout.readline())
    side.record(f"start-up to ready s: {service}", timed["seconds"])
    side.record(f"start-up CPU s: {service}", timed["cpu_seconds"])


def _measure(side: Side, key: str, concurrency: int, bodies: Path, seconds: int) -> None:
    path = FULL_PATH if key == "full" else PREDICT
    counted = {name: pid for name, pid in side.pids.items() if name in path}
    before = cpu_seconds_by_name(counted)
    result = run_load(side.targets[key], bodies, concurrency, seconds)
    after = cpu_seconds_by_name(counted)
    name = f"{key}_c{concurrency}"
    side.record(f"{name} p50 ms", result.p50_ms)
    side.record(f"{name} p99 ms", result.p99_ms)
    side.record(f"{name} requests/s", result.per_second)
    side.record(f"{name} errors", result.errors)
    side.record(f"{name} p99/p50", result.p99_ms / result.p50_ms)
    if concurrency == 8:
        per_request = {process: (after[process] - before[process]) * 1000 / result.requests for process in before}
        for process, cpu in per_request.items():
            side.record(f"{name} CPU ms/request: {process}", cpu)
        side.record(f"{name} CPU ms/request: all", sum(per_request.values()))


def _report(sides: list[Side]) -> str:
    before, after = sides
    lines = [f"{'figure':58} {'before':>10} {'after':>10} {'after/before':>12}"]
    for key, values in before.figures.items():
        old, new = statistics.median(values), statistics.median(after.figures.get(key, [float("nan")]))
        ratio = f"{new / old:.2f}" if old else "-"
        lines.append(f"{key:58} {old:10.2f} {new:10.2f} {ratio:>12}")
    lines.append("each figure: the median of the runs; the two systems loaded in turn, the first swapping every run")
    lines += ["", "goals"]
    for text, key, limit, at_most in GOALS:
        ratio = statistics.median(after.figures[key]) / statistics.median(before.figures[key])
        lines.append(f"  {_mark(ratio <= limit if at_most else ratio >= limit)} {text}: {ratio:.2f}")
    tail = statistics.median(after.figures["full_c8 p99/p50"])
    lines.append(f"  {_mark(tail <= 3)} full path, concurrency 8, after: p99 <= 3x its p50: {tail:.2f}")
    errors = sum(sum(values) for key, values in after.figures.items() if key.endswith("errors"))
    lines.append(f"  {_mark(errors == 0)} after: 0 errors in every run: {errors:.0f}")
    return "\n".join(lines)


def _mark(met: bool) -> str:
    return "met    " if met else "NOT MET"


if __name__ == "__main__":
    sys.exit(main())
