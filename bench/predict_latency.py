"""Prediction latency: scikit-learn in process vs `/v1/predict` over HTTP.

Both are measured in the same run on the same reviews, and the ratio is what
to compare across machines (absolute times vary, ratios hold). The service
runs as its own process; this script is the client, one request at a time.

    python bench/predict_latency.py [--release var/releases/v1.0.0] [--data reviews.tsv]
"""

import argparse
import csv
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import joblib
import numpy as np
from model_service.manifest import ModelManifest
from model_service.model_store import ModelStore, ReleaseSource
from model_service.predictor import Predictor
from model_service.training.demo_data import demo_reviews


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", type=Path, default=Path("var/releases/v1.0.0"))
    parser.add_argument("--data", type=Path, help="a TSV with a Review column (default: the demo corpus)")
    parser.add_argument("--requests", type=int, default=2000)
    arguments = parser.parse_args()
    manifest_path = arguments.release / "model.json"
    if not manifest_path.exists():
        print(f"no release at {arguments.release}: run `make model` first (DATA=file.tsv to choose the data)")
        return 1
    manifest = ModelManifest.read(manifest_path)
    reviews = _reviews(arguments.data)
    samples = [reviews[i % len(reviews)] for i in range(arguments.requests)]

    with tempfile.TemporaryDirectory() as cache:
        source = ReleaseSource(f"file://{arguments.release.parent.resolve()}/{{version}}/{{asset}}", "-/-")
        verified = ModelStore(Path(cache), source).fetch(manifest.model_version, manifest.sha256)
        pipeline = joblib.load(io.BytesIO(verified.artifact))
        in_process = _time_each(pipeline.predict_proba, samples, wrap=True)
        compiled = _time_each(Predictor(pipeline, manifest).predict, samples, wrap=True)
        over_http = _time_service(arguments.release, manifest, Path(cache), samples)

    rows = [
        ("in-process predict_proba (1 review)", in_process),
        ("in-process compiled model (1 review)", compiled),
        ("HTTP /v1/predict, concurrency 1", over_http),
    ]
    print(f"model {manifest.model_version} sha256 {manifest.sha256[:12]}…, {len(samples)} requests each")
    print(f"{'':38} {'p50 ms':>8} {'p99 ms':>8} {'per s':>8}")
    for name, times in rows:
        print(f"{name:38} {_ms(times, 50):8.3f} {_ms(times, 99):8.3f} {len(times) / sum(times):8.0f}")
    print(f"ratio of p50s, HTTP / in-process: {_ms(over_http, 50) / _ms(in_process, 50):.2f}x")
    return 0


def _reviews(data: Path | None) -> list[str]:
    if data is None:
        return demo_reviews()[0]
    with data.open(encoding="utf-8-sig", newline="") as file:
        return [row["Review"] for row in csv.DictReader(file, delimiter="\t")]


def _time_each(call, samples: list[str], wrap: bool = False) -> list[float]:
    for review in samples[:100]:
        call([review] if wrap else review)
    times = []
    for review in samples:
        started = time.perf_counter()
        call([review] if wrap else review)
        times.append(time.perf_counter() - started)
    return times


def _time_service(release: Path, manifest: ModelManifest, cache: Path, samples: list[str]) -> list[float]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PORT": str(port),
        "MODEL_VERSION": manifest.model_version,
        "MODEL_SHA256": manifest.sha256,
        "MODEL_URL_TEMPLATE": f"file://{release.parent.resolve()}/{{version}}/{{asset}}",
        "MODEL_CACHE_DIR": str(cache),
        "LOG_LEVEL": "warning",
    }
    server = subprocess.Popen([sys.executable, "-m", "model_service", "serve"], env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            _wait_ready(client)

            def post(review: str) -> None:
                client.post("/v1/predict", json={"review": review}).raise_for_status()

            return _time_each(post, samples)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit("model-service did not become ready in 30 s")


def _ms(times: list[float], percentile: int) -> float:
    return float(np.percentile(times, percentile)) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
