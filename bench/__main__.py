"""`make bench`: the model and the request path against their limits, on the real system.

Starts what `make run` starts (both versions of the three services behind
Envoy compiled from k8s/, the gateway's rate limits raised for the benchmark only),
then, in each of several runs: times the model in this process, and drives
wrk, a separate process, against the model-service alone and against the full
path (gateway -> app-service -> its sidecar listener -> model-service, with
the database write). Then start-up and peak memory. Then it starts what `make
run DB=postgres` starts (PostgreSQL, two app-service replicas per arm) and
drives the full path again, beside SQLite's figures. Prints a table and writes
bench/results.json; exits 1 if any request failed or a fast path was inexact.

    python -m bench [--data reviews.tsv] [--runs 5] [--seconds 5]
"""

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sentiment_devtools.stack.model_release import DEMO_SUFFIX, ensure_release
from sentiment_devtools.system import SERVICES

from bench.figures import Figures
from bench.in_process import exact_on, load_model, time_model
from bench.load import LoadResult, Target, read_reviews, run_load, write_bodies
from bench.proc import cpu_seconds_by_name, peak_rss_mib
from bench.report import table, write_json
from bench.startup import time_to_ready
from bench.system import (
    BENCH_TOKENS_PER_SECOND,
    FULL_PATH,
    FULL_PATH_POSTGRES,
    PAGE,
    PREDICT,
    full_path_target,
    k8s_without_rate_limit,
    model_service_target,
    page_target,
    start_system,
)

CONCURRENCIES = (1, 8)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="reviews TSV: train the release on it and time on its reviews")
    parser.add_argument("--runs", type=int, default=5, help="runs; each figure is their median (default: 5)")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each load (default: 5)")
    parser.add_argument("--releases", type=Path, default=Path("var/releases"))
    parser.add_argument("--model-version", default="v1.0.0")
    parser.add_argument("--state-dir", type=Path, default=Path("var/bench"), help="logs, caches, databases")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    arguments = parser.parse_args()

    release = ensure_release(arguments.releases, arguments.model_version, arguments.data)
    reviews = read_reviews(arguments.data)
    model = load_model(release)
    load_before = os.getloadavg()
    started_at = datetime.datetime.now(datetime.UTC)
    shutil.rmtree(arguments.state_dir, ignore_errors=True)
    arguments.state_dir.mkdir(parents=True)
    k8s_dir = k8s_without_rate_limit(Path("k8s"), arguments.state_dir)
    figures = Figures()
    print(f"bench: starting the system (logs in {arguments.state_dir}/logs)", flush=True)
    stack = start_system(release, arguments.state_dir / "system", k8s_dir)
    try:
        bodies = write_bodies(reviews, arguments.state_dir / "bodies.jsonl")
        loads = [
            Load("predict", "model-service /v1/predict", model_service_target(stack), _pids(stack, PREDICT)),
            Load("full", "full path: gateway, app-service, sidecar, model-service, database", full_path_target(stack),
                 _pids(stack, FULL_PATH)),
            Load("page", "the page: gateway, app-frontend", page_target(stack), _pids(stack, PAGE)),
        ]  # fmt: skip
        for load in loads:  # connections opened, caches warm
            run_load(load.target, bodies, max(CONCURRENCIES), 1)
        for run in range(1, arguments.runs + 1):
            print(f"bench: run {run} of {arguments.runs} (load average {os.getloadavg()[0]:.1f})", flush=True)
            _run(figures, model, reviews, loads, bodies, arguments.seconds)
        for name in ("model-service/stable", "app-service/stable", "app-frontend/stable", "envoy"):
            service = name.split("/")[0]
            pid = stack.supervisor.process(name).popen.pid
            figures.record(f"rss_{service}", f"{name}", "MiB", peak_rss_mib(pid))
        for _ in range(arguments.runs):
            for service in SERVICES:
                wall, cpu = time_to_ready(stack.instance(service, "stable"), arguments.state_dir)
                figures.record(f"startup_{service}", service, "s", wall)
                figures.record(f"startup_cpu_{service}", f"{service}: CPU time used until ready", "s", cpu)
    finally:
        stack.stop()
    print("bench: starting the system on PostgreSQL, two app-service replicas per arm", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-postgres-") as postgres_dir:
        Path(postgres_dir).chmod(0o755)  # the server may run as the postgres user
        stack = start_system(release, arguments.state_dir / "system-postgres", k8s_dir, Path(postgres_dir))
        try:
            load = Load("full_pg", "full path on PostgreSQL, 2 app-service replicas", full_path_target(stack),
                        _pids(stack, FULL_PATH_POSTGRES))  # fmt: skip
            run_load(load.target, bodies, max(CONCURRENCIES), 1)
            for run in range(1, arguments.runs + 1):
                print(f"bench: PostgreSQL run {run} of {arguments.runs}", flush=True)
                _run_loads(figures, [load], bodies, arguments.seconds, times=None)
        finally:
            stack.stop()
    exact = exact_on(model, reviews)

    context = {
        "date": started_at.isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_start": load_before, "load_average_end": os.getloadavg()},
        "model": {"version": release.version, "sha256": release.sha256, "demo": release.version.endswith(DEMO_SUFFIX),
                  "data_source": model.manifest.data_source},
        "reviews": {"source": str(arguments.data or "demo corpus"), "count": len(reviews)},
        "runs": arguments.runs,
        "seconds_per_load": arguments.seconds,
        "load_generator": "wrk -t1 (closed loop), a separate process",
        "rate_limit": f"raised to {BENCH_TOKENS_PER_SECOND:,} tokens/s in a copy of k8s/, for the benchmark only",
        "exact": exact,
    }  # fmt: skip
    print("\n" + table(figures, _header(context)))
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(arguments.out, figures, context)
    print(f"\nwritten to {arguments.out}")
    errors = sum(sum(figure.runs) for key, figure in figures.items() if key.endswith("_errors"))
    return 0 if exact and errors == 0 else 1


@dataclass(frozen=True)
class Load:
    """One load of the benchmark: its figures' key, what it drives, and the processes whose CPU time it counts."""

    key: str
    label: str
    target: Target
    pids: dict[str, int]


def _pids(stack, names: tuple[str, ...]) -> dict[str, int]:
    return {name: stack.supervisor.process(name).popen.pid for name in names}


def _run(figures: Figures, model, reviews: list[str], loads: list[Load], bodies: Path, seconds: int) -> None:
    """One run: the model in process, then each load; ratios against this run's in-process times."""
    times = time_model(model, reviews)
    for key, label, single in (("sklearn", "scikit-learn predict_proba", times.sklearn),
                               ("served", "served path (compiled model)", times.served)):  # fmt: skip
        figures.record(f"{key}_single_p50", label, "ms", single.p50_ms)
        figures.record(f"{key}_single_p99", label, "ms", single.p99_ms)
    figures.record("sklearn_batch", "scikit-learn predict_proba", "reviews/s", times.sklearn_batch_per_s)
    figures.record("served_batch", "served path (compiled batch)", "reviews/s", times.served_batch_per_s)
    _run_loads(figures, loads, bodies, seconds, times)


def _run_loads(figures: Figures, loads: list[Load], bodies: Path, seconds: int, times) -> None:
    """Each load at each concurrency; CPU per request by process at the highest; ratios to `times` if given."""
    for load in loads:
        key, label = load.key, load.label
        for concurrency in CONCURRENCIES:
            cpu_before = cpu_seconds_by_name(load.pids)
            result = run_load(load.target, bodies, concurrency, seconds)
            cpu_after = cpu_seconds_by_name(load.pids)
            name = f"{key}_c{concurrency}"
            if concurrency == max(CONCURRENCIES):
                _record_cpu(figures, key, label, cpu_before, cpu_after, result)
            figures.record(f"{name}_p50", f"{label}, concurrency {concurrency}", "ms", result.p50_ms)
            figures.record(f"{name}_p99", "", "ms", result.p99_ms)
            figures.record(f"{name}_rate", "", "requests/s", result.per_second)
            figures.record(f"{name}_errors", "", "requests", result.errors)
            figures.record(f"{name}_tail", "", "x", result.p99_ms / result.p50_ms)
            if times is not None and "model-service/stable" in load.pids:  # a load the model answers
                figures.record(f"{name}_ratio", "", "x", result.p50_ms / times.sklearn.p50_ms)
                figures.record(f"{name}_compiled_ratio", "", "x", result.p50_ms / times.served.p50_ms)


def _record_cpu(figures: Figures, key: str, label: str, before: dict, after: dict, result: LoadResult) -> None:
    """CPU milliseconds per request of each process on the path; what two idle cores could carry at that cost; and
    the share of it the load reached: well below 1, the requests waited for something other than a free core
    (scheduling, a queue, a lock), not for the CPU they cost."""
    total = 0.0
    for name in before:
        per_request = (after[name] - before[name]) * 1000 / result.requests
        total += per_request
        figures.record(f"cpu_{key}_{name}", f"{label}: {name}", "ms CPU/request", per_request)
    figures.record(f"cpu_{key}_total", f"{label}: all of them", "ms CPU/request", total)
    cores = os.cpu_count() or 1
    capacity = cores * 1000 / total
    figures.record(f"capacity_{key}", f"{label}: {cores} cores / CPU per request", "requests/s", capacity)
    figures.record(f"reached_{key}", f"{label}: measured / that capacity", "x", result.per_second / capacity)


def _header(context: dict) -> list[str]:
    machine, model = context["machine"], context["model"]
    start, end = machine["load_average_start"][0], machine["load_average_end"][0]
    lines = [
        f"Sentiment Canary benchmark, {context['date']}, {machine['cores']} cores, "
        f"load average {start:.1f} at the start, {end:.1f} at the end",
        f"model {model['version']} (sha256 {model['sha256'][:12]}...), timed on {context['reviews']['count']} "
        f"reviews ({context['reviews']['source']}); {context['runs']} runs of {context['seconds_per_load']} s per load",
        "each figure: median of the runs (min-max); ratios are taken within each run",
        f"load generator: {context['load_generator']}; the gateway's rate limits are {context['rate_limit']}",
        f"compiled paths equal scikit-learn's predict_proba to the bit on every review: {context['exact']}",
    ]
    if model["demo"]:
        lines.insert(1, "*** DEMO MODEL, trained on the synthetic corpus: times are real, verdicts are not ***")
    return lines


if __name__ == "__main__":
    sys.exit(main())
