"""What the app-service adds to a prediction: its store's writes, and POST /api/v1/sentiment over HTTP.

The model-service and the app-service run as their own processes (SQLite file in
a temporary folder); this script is the client. It times, on the same reviews:
a store write in process (insert + feedback), the model-service's /v1/predict
directly, and the app-service's /api/v1/sentiment in front of it, one request
at a time and then eight at once.

    python bench/review_latency.py [--release var/releases/v1.0.0] [--requests 1000]
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from app_service.store import NewReview, open_store
from model_service.manifest import ModelManifest
from model_service.training.demo_data import demo_reviews

CONCURRENCY = 8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", type=Path, help="a release folder (default: var/releases/v1.0.0[-demo])")
    parser.add_argument("--requests", type=int, default=1000)
    arguments = parser.parse_args()
    release = arguments.release or _default_release()
    if release is None or not (release / "model.json").exists():
        print("no model release: run `make model` or `make run` first (or pass --release)")
        return 1
    manifest = ModelManifest.read(release / "model.json")
    reviews = demo_reviews()[0]
    samples = [reviews[i % len(reviews)] for i in range(arguments.requests)]

    with tempfile.TemporaryDirectory() as folder:
        writes = _time_store_writes(Path(folder) / "bench.db", samples)
        model_port, app_port = _free_port(), _free_port()
        model = _start("model_service", model_port, {
            "MODEL_VERSION": manifest.model_version,
            "MODEL_SHA256": manifest.sha256,
            "MODEL_URL_TEMPLATE": f"file://{release.parent.resolve()}/{{version}}/{{asset}}",
            "MODEL_CACHE_DIR": f"{folder}/cache",
        })  # fmt: skip
        app = _start("app_service", app_port, {
            "MODEL_SERVICE_URL": f"http://127.0.0.1:{model_port}",
            "DATABASE_URL": f"sqlite:///{folder}/reviews.db",
        })  # fmt: skip
        try:
            direct = _time_sequential(f"http://127.0.0.1:{model_port}", "/v1/predict", samples)
            through_app = _time_sequential(f"http://127.0.0.1:{app_port}", "/api/v1/sentiment", samples)
            concurrent, wall = asyncio.run(_time_concurrent(f"http://127.0.0.1:{app_port}", samples))
        finally:
            for process in (app, model):
                process.terminate()
                process.wait(timeout=10)

    print(f"model {manifest.model_version}, {len(samples)} requests each, on {os.cpu_count()} cores")
    print(f"{'':46} {'p50 ms':>8} {'p99 ms':>8} {'per s':>8}")
    rows = [
        ("store write: insert + feedback, in process", writes, len(writes) / sum(writes)),
        ("HTTP model-service /v1/predict, 1 at a time", direct, len(direct) / sum(direct)),
        ("HTTP app-service /api/v1/sentiment, 1 at a time", through_app, len(through_app) / sum(through_app)),
        (f"HTTP app-service /api/v1/sentiment, {CONCURRENCY} at once", concurrent, len(concurrent) / wall),
    ]
    for name, times, rate in rows:
        print(f"{name:46} {_ms(times, 50):8.3f} {_ms(times, 99):8.3f} {rate:8.0f}")
    print(f"app-service overhead at p50 (1 at a time): {_ms(through_app, 50) - _ms(direct, 50):.3f} ms")
    return 0


def _default_release() -> Path | None:
    for name in ("v1.0.0", "v1.0.0-demo"):
        if (Path("var/releases") / name / "model.json").exists():
            return Path("var/releases") / name
    return None


def _time_store_writes(path: Path, samples: list[str]) -> list[float]:
    store = open_store(str(path))
    times = []

    async def write_all() -> None:
        for index, review in enumerate(samples):
            started = time.perf_counter()
            await store.add(NewReview(f"id-{index}", review, "positive", 0.9, "v1", "stable", "stable"))
            await store.record_feedback(f"id-{index}", "negative")
            times.append(time.perf_counter() - started)

    asyncio.run(write_all())
    store.close()
    return times


def _time_sequential(base_url: str, path: str, samples: list[str]) -> list[float]:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        for review in samples[:100]:
            client.post(path, json={"review": review}).raise_for_status()
        times = []
        for review in samples:
            started = time.perf_counter()
            client.post(path, json={"review": review}).raise_for_status()
            times.append(time.perf_counter() - started)
    return times


async def _time_concurrent(base_url: str, samples: list[str]) -> tuple[list[float], float]:
    times: list[float] = []
    queue = list(samples)
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:

        async def worker() -> None:
            while queue:
                review = queue.pop()
                started = time.perf_counter()
                (await client.post("/api/v1/sentiment", json={"review": review})).raise_for_status()
                times.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return times, time.perf_counter() - started


def _start(package: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    full_env = {**os.environ, **env, "PORT": str(port), "LOG_LEVEL": "warning"}
    process = subprocess.Popen([sys.executable, "-m", package, "serve"], env=full_env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"{package} did not become ready in 30 s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ms(times: list[float], percentile: int) -> float:
    return float(np.percentile(times, percentile)) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
