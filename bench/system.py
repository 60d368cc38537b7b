"""The system under test: what `make run` starts, on free ports, with the gateway's rate limits raised.

The gateway's rate limits (per client address, and 100 requests/s per Envoy
for the API as a whole) would turn any load test into 429s: wrk sends from
one address. The benchmark compiles Envoy from a temporary copy of k8s/
whose token buckets are raised, and from nothing else: the routes, the
sidecar listeners and every other setting are the production manifests'.
"""

import shutil
from pathlib import Path

import yaml
from sentiment_devtools.stack.instances import Ports
from sentiment_devtools.stack.model_release import LocalRelease
from sentiment_devtools.stack.stack import LocalStack
from sentiment_devtools.system import API_HOST, FRONTEND_HOST

from bench.load import Target

RATE_LIMITS_FILE = Path("components/istio/envoy-filter-rate-limits.yaml")
# The processes each load of the stable arm passes through, whose CPU time per request is counted.
PREDICT = ("model-service/stable",)
FULL_PATH = ("model-service/stable", "app-service/stable", "envoy")
PAGE = ("app-frontend/stable", "envoy")
# On PostgreSQL: both of the arm's app-service replicas, and the server (its backends included).
FULL_PATH_POSTGRES = ("model-service/stable", "app-service/stable", "app-service/stable/2", "envoy", "postgres")
BENCH_TOKENS_PER_SECOND = 1_000_000


def k8s_without_rate_limit(k8s_dir: Path, into: Path) -> Path:
    """A copy of k8s_dir whose token buckets, global and per client, hold a million tokens, refilled each second."""
    copy = into / "k8s"
    shutil.copytree(k8s_dir, copy)
    path = copy / RATE_LIMITS_FILE
    envoy_filter = yaml.safe_load(path.read_text())
    patches = [p for p in envoy_filter["spec"]["configPatches"] if p["applyTo"] == "VIRTUAL_HOST"]
    for patch in patches:
        limit = patch["patch"]["value"]["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]
        for bucket in [limit["token_bucket"], *(d["token_bucket"] for d in limit.get("descriptors", []))]:
            bucket.update(max_tokens=BENCH_TOKENS_PER_SECOND, tokens_per_fill=BENCH_TOKENS_PER_SECOND)
            bucket["fill_interval"] = "1s"
    if not patches:
        raise SystemExit(f"bench: no token bucket found in {path}")
    path.write_text(yaml.safe_dump(envoy_filter, sort_keys=False))
    return copy


def start_system(release: LocalRelease, state_dir: Path, k8s_dir: Path, postgres_dir: Path | None = None) -> LocalStack:
    """What `make run` starts; with postgres_dir, what `make run DB=postgres` starts, its server's data there."""
    stack = LocalStack(
        release, state_dir, k8s_dir=k8s_dir, ports=Ports.free(), log_dir=state_dir / "logs",
        database="sqlite" if postgres_dir is None else "postgres", postgres_dir=postgres_dir,
        access_log=False,  # as Istio's default mesh runs: no access log
    )  # fmt: skip
    stack.start()
    return stack


def model_service_target(stack: LocalStack) -> Target:
    """The stable model-service's own port: /v1/predict alone, no mesh."""
    return Target(stack.instance("model-service", "stable").url, "/v1/predict", {})


def full_path_target(stack: LocalStack) -> Target:
    """What the page's script sends: to the gateway, by the API's public name, from the page's origin."""
    port = stack.ports.ingress
    return Target(
        f"http://127.0.0.1:{port}",
        "/api/v1/sentiment",
        {
            "Host": f"{API_HOST}:{port}",
            "Origin": stack.frontend_url,
            "X-App-Version": "stable",
        },
    )


def page_target(stack: LocalStack) -> Target:
    """A returning visitor of the stable arm loading the page: the gateway, by the page's public name, and the
    frontend's render."""
    port = stack.ports.ingress
    return Target(
        f"http://127.0.0.1:{port}", "/", {"Host": f"{FRONTEND_HOST}:{port}", "Cookie": "app-version=stable"}, get=True
    )
