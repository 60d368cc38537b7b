"""Two app-service replicas per arm on PostgreSQL, behind the compiled Envoy, under the pages' traffic.

The system as `make run DB=postgres` starts it: a PostgreSQL server of its own, one database per arm, and two
app-service replicas per arm, which Envoy balances over (docs/local-mesh.md; the endpoints served from files,
as istiod serves them, so a replica can leave them before it stops). Each test drives reviews and corrections
through the gateway, does what a cluster does to the replicas or the database mid-traffic, and then counts:
requests sent, failed, acknowledged, and stored, compared review by review with what the store holds. The
figures go to var/test-artifacts/faults/ and docs/reliability.md.
"""

import asyncio
import itertools
import signal
import time

import httpx
import pytest
from sentiment_devtools.system import ARMS, STABLE
from support.mesh import Mesh, running_stack
from support.postgres import reachable_folder
from support.traffic import SETTLED_REVIEWS, Load, Traffic, save_figures
from support.waiting import DEADLINE_SECONDS, wait_until

pytestmark = pytest.mark.slow

ARM = STABLE
# The app-service's model-service timeout (2 s + 0.5 s, one retry) and its database's (2 s pool, 2 s statement).
SLOWEST_ACCEPTABLE_SECONDS = 8.0
_runs = itertools.count()


@pytest.fixture(scope="module")
def stack(release):
    with (
        reachable_folder("sentiment-replicas-") as folder,
        running_stack(release, folder, database="postgres") as stack,
    ):
        yield stack


def run_load(stack, scenario, versions=(ARM,)) -> Traffic:
    traffic = Traffic(prefix=f"replicas run {next(_runs)}:")

    async def main():
        mesh = Mesh(stack)
        try:
            load = Load(mesh, traffic, versions)
            try:
                await scenario(load, traffic)
            finally:
                await load.stop()
        finally:
            await mesh.close()

    asyncio.run(main())
    return traffic


def stored(stack, traffic: Traffic, version: str) -> tuple[set[str], set[str]]:
    """The ids of this run's reviews in the arm's database, and of those with feedback."""
    rows = stack.postgres.sql(
        f"SELECT id, feedback_label IS NOT NULL FROM reviews WHERE review LIKE '{traffic.prefix} %'",  # noqa: S608
        f"reviews_{version}",
    ).splitlines()
    pairs = [row.split("|") for row in rows if row]
    return {review for review, _ in pairs}, {review for review, feedback in pairs if feedback == "t"}


def count_everything(stack, traffic: Traffic, version: str = ARM) -> dict:
    """Sent, failed, acknowledged and stored; nothing acknowledged may be missing from the store."""
    reviews, corrections = stored(stack, traffic, version)
    lost_reviews = traffic.acknowledged_reviews[version] - reviews
    lost_corrections = traffic.acknowledged_corrections[version] - corrections
    assert not lost_reviews, f"{len(lost_reviews)} acknowledged {version} reviews are not in the store"
    assert not lost_corrections, f"{len(lost_corrections)} acknowledged {version} corrections are not in the store"
    answers = [a for a in traffic.answers if a.version == version]
    return {
        "requests sent": len(answers),
        "failed": sum(a.status != 200 for a in answers),
        "reviews acknowledged": traffic.reviews(version),
        "reviews stored": len(reviews),
        "corrections acknowledged": len(traffic.acknowledged_corrections[version]),
        "corrections stored": len(corrections),
        "lost": 0,
    }


def requests_served(stack, name: str) -> int:
    """The API requests a replica answered since it started (its own RED counter)."""
    text = httpx.get(f"{next(i for i in stack.instances if i.name == name).url}/metrics", timeout=2.0).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("http_requests_total{") and 'route="/api/v1/' in line
    )


def envoy_counters(stack, cluster: str) -> dict[str, int]:
    """Envoy's counts for one cluster: connections refused, retries, resets (its admin page)."""
    names = (
        "upstream_cx_connect_fail",
        "upstream_rq_retry",
        "upstream_rq_pending_failure_eject",
        "upstream_rq_rx_reset",
    )
    stats = httpx.get(f"{stack.admin_url}/stats?format=json&filter=^cluster\\.", timeout=2.0).json()["stats"]
    values = {stat["name"]: stat.get("value", 0) for stat in stats if "name" in stat}
    return {name: values.get(f"cluster.{cluster}.{name}", 0) for name in names}


def test_a_rolling_update_of_both_replicas_under_load_fails_nothing_and_loses_nothing(stack):
    replicas = [instance.name for instance in stack.replicas("app-service", ARM)]
    assert len(replicas) == 2, replicas
    cluster = f"outbound|80|{ARM}|app-service"
    before = envoy_counters(stack, cluster)

    async def scenario(load, traffic):
        # Given the pages' reviews and corrections flowing to one arm's two replicas
        await load.until_acknowledged()
        for replica in replicas:
            # When each replica in turn is drained out of the endpoints, stopped (SIGTERM), started again,
            # ready, and back in: a rolling update with maxUnavailable 0
            await asyncio.to_thread(stack.rolling_restart, replica)
            # Then it serves again, and the traffic flows on
            await asyncio.to_thread(
                wait_until, lambda r=replica: requests_served(stack, r), what=f"{replica} to serve after its restart"
            )
            await load.until_acknowledged()

    traffic = run_load(stack, scenario)

    # And Envoy never met a replica that was stopping: each had left the endpoints before it was stopped,
    # so no connection was refused, none reset, and nothing needed a retry
    assert envoy_counters(stack, cluster) == before
    # And no request failed, and the store holds every review and correction acknowledged, and no other
    assert traffic.statuses() == {"200": len(traffic.answers)}, traffic.summary()
    figures = count_everything(stack, traffic)
    assert figures["reviews stored"] == figures["reviews acknowledged"]
    assert figures["corrections stored"] == figures["corrections acknowledged"]
    save_figures("app-service-rolling-update", traffic, **figures)


async def requests_in_flight(traffic: Traffic) -> None:
    """Until some request is on its way (the pages' requests take milliseconds, and most moments have none)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not traffic.in_flight:
        assert time.monotonic() < deadline, f"no request was ever in flight: {traffic.summary()}"
        await asyncio.sleep(0.001)


def ejected_by_the_gateway(stack, name: str) -> bool:
    """Whether the gateway's outlier detection has ejected the process: its inbound listener, where Envoy reaches it."""
    address = ("127.0.0.1", stack.ports.inbound[next(i for i in stack.instances if i.name == name).port])
    clusters = httpx.get(f"{stack.admin_url}/clusters?format=json", timeout=2.0).json()["cluster_statuses"]
    return any(
        host["health_status"].get("failed_outlier_check", False)
        for cluster in clusters
        if cluster["name"].startswith("outbound|") and "|app-service." in cluster["name"]
        for host in cluster.get("host_statuses", [])
        if (host["address"]["socket_address"]["address"], host["address"]["socket_address"]["port_value"]) == address
    )


def test_a_replica_killed_under_load_fails_only_what_reached_it_before_the_gateway_ejected_it_and_loses_nothing(
    stack,
):
    victim = stack.instance("app-service", ARM, replica=2).name
    moment = {}
    # Given a gateway that has ejected no replica yet: the faults of the module's other tests leave ejections
    # behind (both replicas ejected, the gateway routing to both in panic mode), and Envoy ejects a host again
    # for longer each time (baseEjectionTime x its ejections). A fresh Envoy of the same configuration has none.
    stack.rebuild_mesh(stack.k8s_dir)

    async def scenario(load, traffic):
        # Given reviews flowing to both replicas of the arm
        await load.until_acknowledged()
        # When one replica is killed (SIGKILL: no drain, no graceful shutdown), with requests in flight
        await requests_in_flight(traffic)
        moment["in flight"] = len(traffic.in_flight)
        moment["killed"] = time.monotonic()
        await asyncio.to_thread(stack.supervisor.stop, victim, signal.SIGKILL)
        moment["gone"] = time.monotonic()
        # Its pod's sidecar, still up, answers 503 for it (as a cluster's would: the mesh may not retry a POST
        # that reached a sidecar), until the gateway's outlier detection ejects it (the DestinationRule's
        # consecutive5xxErrors)
        await asyncio.to_thread(
            wait_until, lambda: ejected_by_the_gateway(stack, victim), what=f"the gateway to eject {victim}"
        )
        moment["ejected"] = time.monotonic()
        # Then the next requests are answered by the other replica
        await load.until_acknowledged()
        # And once it is started again, it serves its share again
        await asyncio.to_thread(stack.restart, victim)
        await asyncio.to_thread(wait_until, lambda: requests_served(stack, victim), what=f"{victim} to serve again")
        await load.until_acknowledged()

    traffic = run_load(stack, scenario)

    # And the only failures are requests sent before the gateway ejected it, each a clear 503
    failed = traffic.failed()
    assert all(answer.sent_at <= moment["ejected"] for answer in failed), (moment, [a.sent_at for a in failed])
    assert {answer.status for answer in failed} <= {503}, traffic.summary()
    # And every review and correction acknowledged is in the store
    figures = count_everything(stack, traffic)
    save_figures(
        "app-service-replica-killed",
        traffic,
        in_flight_at_the_kill=moment["in flight"],
        failed_before_the_ejection=len(failed),
        **figures,
    )


def test_postgresql_restarted_under_load_gives_clear_503s_then_recovers_by_itself_and_loses_nothing(stack):
    app_services = [instance.name for instance in stack.instances if instance.service == "app-service"]
    pids = {name: stack.supervisor.process(name).popen.pid for name in app_services}
    readiness = {}

    async def scenario(load, traffic):
        # Given reviews flowing to both arms
        await load.until_acknowledged()
        # When the database server stops (its fast shutdown: every connection closed), under the traffic
        await asyncio.to_thread(stack.supervisor.stop, stack.postgres.name)
        refused = traffic.statuses()["503"]
        # Then the app-services answer a clear 503, and their /readyz says what is wrong
        await load.until(lambda t: t.statuses()["503"] >= refused + SETTLED_REVIEWS, f"{SETTLED_REVIEWS} answers 503")
        readiness["down"] = httpx.get(f"{stack.instance('app-service', ARM).url}/readyz", timeout=5.0)
        # And once the server is back, they answer again by themselves
        stack.supervisor.start(stack.postgres.process())
        await asyncio.to_thread(stack.supervisor.wait_ready, 60.0, [stack.postgres.name])
        await load.until_acknowledged()
        readiness["up"] = httpx.get(f"{stack.instance('app-service', ARM).url}/readyz", timeout=5.0)

    traffic = run_load(stack, scenario, versions=ARMS)

    assert readiness["down"].status_code == 503
    assert readiness["down"].json()["detail"].startswith("the database does not answer:"), readiness["down"].text
    assert readiness["up"].status_code == 200, readiness["up"].text
    # Never restarted: the same processes recovered
    assert {name: stack.supervisor.process(name).popen.pid for name in app_services} == pids
    # Every failure is a 503 that names the database, none slower than the timeouts allow
    assert set(traffic.statuses()) == {"200", "503"}, traffic.summary()
    for answer in traffic.failed():
        assert b"could not store" in answer.body, answer
    assert max(a.seconds for a in traffic.answers) < SLOWEST_ACCEPTABLE_SECONDS
    figures = {version: count_everything(stack, traffic, version) for version in ARMS}
    save_figures("postgresql-restarted", traffic, **figures)
