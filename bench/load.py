"""The load generator: wrk, a separate C process, POSTing real reviews at a fixed concurrency.

wrk is closed-loop: each of its connections sends the next request as soon as
the answer to the last one arrives, so concurrency 1 measures latency alone
and concurrency 8 how far the system scales. It costs the machine far less
CPU per request than a Python client would, and this machine has two cores
for everything.
"""

import csv
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from model_service.training.demo_data import demo_reviews

SCRIPT = Path(__file__).with_name("post_reviews.lua")


@dataclass(frozen=True)
class Target:
    """Where the load goes: a URL, and the headers a real caller would send; POSTs of the bodies, or GETs."""

    url: str
    path: str
    headers: dict[str, str]
    get: bool = False


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # connection errors, timeouts and answers other than 2xx/3xx

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is not installed (apt-get install wrk; `make bench` does it)")
    return path


def read_reviews(data: Path | None) -> list[str]:
    """The reviews of a training TSV, or of the demo corpus."""
    if data is None:
        return demo_reviews()[0]
    with data.open(encoding="utf-8-sig", newline="") as file:
        return [row["Review"] for row in csv.DictReader(file, delimiter="\t")]


def write_bodies(reviews: list[str], path: Path) -> Path:
    """One JSON request body per line: what wrk sends, in turn."""
    path.write_text("".join(json.dumps({"review": review}) + "\n" for review in reviews))
    return path


def run_load(target: Target, bodies: Path, concurrency: int, seconds: int, timeout_seconds: int = 5) -> LoadResult:
    headers = [f"{name}: {value}" for name, value in target.headers.items()]
    command = [
        wrk_path(), "-t1", f"-c{concurrency}", f"-d{seconds}s", f"--timeout={timeout_seconds}s",
        "-s", str(SCRIPT), target.url, "--", "-" if target.get else str(bodies), target.path, *headers,
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    return LoadResult(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1e3,
        p99_ms=summary["p99_us"] / 1e3,
        errors=sum(summary["errors"].values()),
    )
