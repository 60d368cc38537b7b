"""What the per-client rate limit relies on in Envoy's local rate limit, shown on the real Envoy 1.40 alone.

Each test starts Envoy on a minimal configuration: one listener, as the
gateway's (the TCP peer is the client, no trusted hop), one virtual host
answering 200 itself, and the API's local rate limit of k8s/ with its buckets
made small and never refilled, so that every count is certain. Clients bind
their sockets to loopback addresses of their own. If an Envoy upgrade changed
one of these behaviours, the design in docs/deployment.md ("Rate limits")
would no longer hold, and these tests say which.
"""

import copy
import http.client
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from sentiment_devtools.mesh.envoy.listeners import http_listener, socket_address
from sentiment_devtools.mesh.topology import Topology
from sentiment_devtools.stack.envoy import ENVOY
from sentiment_devtools.stack.instances import Ports
from sentiment_devtools.system import PUBLIC_HOSTS
from support.mesh import LOCAL_RATE_LIMIT, client_bucket, rate_limit_of, shipped_rate_limits
from support.waiting import DEADLINE_SECONDS, STARTUP_SECONDS, wait_until

ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def api_limit(*, client: int, total: int = 10_000, drop: tuple[str, ...] = ()) -> dict:
    """The API's local rate limit as k8s/ ships it, its buckets holding `client` and `total` tokens, never refilled."""
    limit = copy.deepcopy(rate_limit_of(shipped_rate_limits(), PUBLIC_HOSTS["app-service"]))
    client_bucket(limit).update(max_tokens=client, tokens_per_fill=1, fill_interval="3600s")
    limit["token_bucket"].update(max_tokens=total, tokens_per_fill=1, fill_interval="3600s")
    for field in drop:
        del limit[field]
    return limit


@contextmanager
def envoy_with(limit: dict, work_dir: Path) -> Iterator[Callable[[str], int]]:
    """Envoy answering 200 behind `limit`; yields `send(source_address, x_forwarded_for=None) -> status`."""
    ports = Ports.free()
    topology = Topology(workloads=[], ingress_port=ports.ingress, admin_port=ports.envoy_admin)
    virtual_host = {
        "name": "api",
        "domains": ["*"],
        "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200}}],
        "typed_per_filter_config": {LOCAL_RATE_LIMIT: limit},
    }
    inserted = {"name": LOCAL_RATE_LIMIT, "typed_config": {"@type": limit["@type"], "stat_prefix": "all"}}
    filters = [inserted, {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}]
    listener = http_listener("ingress_http", topology, ports.ingress, [virtual_host], filters, trusted_hops=0)
    config = {
        "admin": {"address": socket_address("127.0.0.1", ports.envoy_admin)},
        "static_resources": {"listeners": [listener]},
    }
    path = work_dir / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    log = work_dir / "envoy.log"
    with log.open("w") as output:
        envoy = subprocess.Popen(
            [str(ENVOY), "-c", str(path), "--disable-hot-restart", "--log-level", "warning"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{ports.envoy_admin}/ready", timeout=5).status_code == 200,
            what="Envoy ready",
            timeout=STARTUP_SECONDS,
            ignoring=(httpx.HTTPError,),
            context=log.read_text,
        )

        def send(source: str, forwarded_for: str | None = None) -> int:
            connection = http.client.HTTPConnection(
                "127.0.0.1", ports.ingress, timeout=DEADLINE_SECONDS, source_address=(source, 0)
            )
            try:
                connection.request("GET", "/", headers={"x-forwarded-for": forwarded_for} if forwarded_for else {})
                return connection.getresponse().status
            finally:
                connection.close()

        yield send
    finally:
        envoy.terminate()
        envoy.wait(timeout=DEADLINE_SECONDS)


def test_an_entry_without_a_value_gives_each_client_address_its_own_bucket_whatever_it_forwards_for(tmp_path):
    with envoy_with(api_limit(client=3), tmp_path) as send:
        # When two clients send 5 requests each, the first naming another client in X-Forwarded-For every time
        first = [send("127.0.0.2", f"10.0.0.{n}") for n in range(5)]
        second = [send("127.0.0.3") for _ in range(5)]

    # Then each had its own 3 tokens
    assert first == second == [200] * 3 + [429] * 2


def test_a_request_its_client_bucket_refused_takes_no_global_token(tmp_path):
    # Given 3 tokens per client and 5 for all
    with envoy_with(api_limit(client=3, total=5), tmp_path) as send:
        # When a first client sends 10, a second 3, a third 3
        answers = [[send(source) for _ in range(count)] for source, count in
                   (("127.0.0.2", 10), ("127.0.0.3", 3), ("127.0.0.4", 3))]  # fmt: skip

    # Then the first had its 3, and its 7 refusals left the second the 2 tokens that remained of the 5
    assert answers == [[200] * 3 + [429] * 7, [200] * 2 + [429], [429] * 3]


@pytest.mark.parametrize(
    ("drop", "others", "still_refused"),
    [(("max_dynamic_descriptors",), 20, False), ((), 200, True)],  # 200 of the shipped 10,000 make the point
    ids=["envoy-default-keeps-20", "as-shipped-keeps-10000"],
)
def test_a_client_seen_longest_ago_loses_its_bucket_only_past_max_dynamic_descriptors(
    tmp_path, drop, others, still_refused
):
    with envoy_with(api_limit(client=1, drop=drop), tmp_path) as send:
        # Given a client whose bucket is empty
        assert [send("127.0.0.2"), send("127.0.0.2")] == [200, 429]
        # When that many other clients come after it
        assert [send(f"127.0.9.{n}") for n in range(1, others + 1)] == [200] * others
        # Then Envoy's default (20) has dropped its empty bucket and it starts full again; the shipped bound has not
        assert send("127.0.0.2") == (429 if still_refused else 200)
