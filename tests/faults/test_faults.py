"""Faults injected into the running system (both versions behind the compiled Envoy), with traffic flowing.

Each test drives reviews (and corrections) through the gateway the way pages
do, breaks something mid-traffic, and then counts: every answer is a 200 or
a clear 503 (never a 500, never slower than the timeouts allow), the system
recovers by itself, and every review or correction it acknowledged is in the
store afterwards. The figures go to var/test-artifacts/faults/ and
docs/reliability.md.
"""

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sentiment_devtools.system import ARMS
from support.mesh import Mesh, running_stack
from support.traffic import SETTLED_REVIEWS, Load, Traffic, save_figures, write_figures
from support.waiting import wait_until

pytestmark = pytest.mark.slow

# The app-service's model-service timeout is 2 s (read) + 0.5 s (connect), retried once on connection errors.
SLOWEST_ACCEPTABLE_SECONDS = 6.0


def stored(stack, version: str) -> tuple[set[str], set[str]]:
    """The review ids in a version's store, and those with a correction recorded."""
    database = stack.state_dir / f"app-service-{version}" / "reviews.db"
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT id, feedback_label IS NOT NULL FROM reviews").fetchall()
    return {row[0] for row in rows}, {row[0] for row in rows if row[1]}


def assert_nothing_lost(stack, traffic: Traffic) -> dict:
    figures = {}
    for version in ARMS:
        reviews, corrections = stored(stack, version)
        lost_reviews = traffic.acknowledged_reviews[version] - reviews
        lost_corrections = traffic.acknowledged_corrections[version] - corrections
        assert not lost_reviews, f"{len(lost_reviews)} acknowledged {version} reviews are not in the store"
        assert not lost_corrections, f"{len(lost_corrections)} acknowledged {version} corrections are not stored"
        figures[version] = {
            "reviews acknowledged": len(traffic.acknowledged_reviews[version]),
            "corrections acknowledged": len(traffic.acknowledged_corrections[version]),
            "lost": 0,
        }
    return figures


def assert_clear_answers_only(traffic: Traffic, allowed: dict[str, set[str]]) -> None:
    """Each version answered only the statuses allowed it (the one not broken: {"200"}, never noticing), none slow."""
    for version in ARMS:
        statuses = traffic.statuses(version)
        errors = [f"{a.status} {a.body[:200]!r}" for a in traffic.failed(version)]
        assert set(statuses) <= allowed[version], f"{version}: {statuses}; {len(errors)} errors, e.g. {errors[:5]}"
    assert traffic.slowest_seconds() < SLOWEST_ACCEPTABLE_SECONDS, traffic.slowest_seconds()


def assert_the_fault_met_traffic(traffic: Traffic, version: str) -> None:
    """Requests of `version` started while the fault was on: otherwise the scenario proved nothing."""
    assert traffic.during_fault(version).total() > 0, f"no {version} request met the fault: {traffic.summary()}"


def run_with_mesh(stack, scenario):
    async def main():
        mesh = Mesh(stack)
        try:
            return await scenario(mesh)
        finally:
            await mesh.close()

    return asyncio.run(main())


@pytest.fixture(scope="module")
def stack(release, tmp_path_factory):
    with running_stack(release, tmp_path_factory.mktemp("faults")) as stack:
        yield stack


def test_the_model_service_killed_under_load_gives_clear_503s_then_recovers_and_loses_nothing(stack):
    traffic = Traffic()

    async def scenario(mesh):
        # Given reviews flowing to both versions
        load = Load(mesh, traffic)
        await load.until_acknowledged(*ARMS)
        # When the stable model-service is killed, and comes back once its clients have met the outage
        traffic.fault_on = True
        stack.supervisor.stop("model-service/stable", signal.SIGKILL)
        during = len(traffic.answers)
        await load.until(lambda t: t.statuses("stable")["503"] >= SETTLED_REVIEWS, f"{SETTLED_REVIEWS} stable 503s")
        await asyncio.to_thread(stack.restart, "model-service/stable")
        traffic.fault_on = False
        # Then the stable version answers again by itself once its model-service is back, the canary all along
        await load.until_acknowledged(*ARMS)
        await load.stop()
        return during

    started_during = run_with_mesh(stack, scenario)

    # And the stable's only errors are 503s that say what is wrong, none slow; the canary never noticed
    assert_clear_answers_only(traffic, {"stable": {"200", "503"}, "canary": {"200"}})
    errors = [answer.body for answer in traffic.failed("stable")]
    assert errors
    assert all(b"model-service" in error for error in errors), errors
    figures = assert_nothing_lost(stack, traffic)
    save_figures("model-service-killed", traffic, requests_before_the_kill=started_during, **figures)


def test_the_app_service_crashing_mid_traffic_loses_no_acknowledged_review_or_correction(stack):
    traffic = Traffic()

    async def scenario(mesh):
        # Given reviews and corrections flowing to both versions
        load = Load(mesh, traffic)
        await load.until_acknowledged(*ARMS)
        # When the canary app-service crashes (SIGKILL: no graceful shutdown), meets its users' requests while it
        # is down, and is restarted
        traffic.fault_on = True
        stack.supervisor.stop("app-service/canary", signal.SIGKILL)
        await load.until(lambda t: t.during_fault("canary").total() >= 1, "a canary request while it is down")
        await asyncio.to_thread(stack.restart, "app-service/canary")
        traffic.fault_on = False
        # Then the canary answers again by itself
        await load.until_acknowledged("canary")
        await load.stop()

    run_with_mesh(stack, scenario)

    # And the canary's clients saw 200s or the gateway's 503 while it was down, the stable's only 200s, and every
    # acknowledged write survived
    assert_the_fault_met_traffic(traffic, "canary")
    assert_clear_answers_only(traffic, {"stable": {"200"}, "canary": {"200", "503"}})
    figures = assert_nothing_lost(stack, traffic)
    save_figures("app-service-crashed", traffic, **figures)


def stable_reviews_in_flight(traffic: Traffic) -> list[int]:
    return sorted(
        index for (index, kind), version in traffic.in_flight.items() if (kind, version) == ("review", "stable")
    )


def test_a_graceful_restart_of_the_app_service_mid_traffic_finishes_what_it_was_answering_and_loses_nothing(stack):
    traffic = Traffic()
    app, model = "app-service/stable", "model-service/stable"

    async def scenario(mesh):
        # Given reviews flowing to both versions
        load = Load(mesh, traffic)
        await load.until_acknowledged(*ARMS)
        # And stable reviews in flight at the app-service: its model-service frozen, so they wait on it
        stack.supervisor.send_signal(model, signal.SIGSTOP)
        await load.until(lambda t: len(stable_reviews_in_flight(t)) >= 3, "3 stable reviews in flight")
        # When the app-service gets SIGTERM, and its model-service thaws once the shutdown has begun
        traffic.fault_on = True
        in_flight = stable_reviews_in_flight(traffic)
        stopping = asyncio.create_task(asyncio.to_thread(stack.supervisor.stop, app, signal.SIGTERM))
        await asyncio.to_thread(
            wait_until, lambda: "Shutting down" in stack.supervisor.log(app), what=f"{app} to begin shutting down"
        )
        stack.supervisor.send_signal(model, signal.SIGCONT)
        await stopping
        stack.supervisor.start(stack.supervisor.process(app))
        await asyncio.to_thread(stack.supervisor.wait_ready, names=[app])
        traffic.fault_on = False
        # Then the stable answers again by itself
        await load.until_acknowledged("stable")
        await load.stop()
        return {index: traffic.review_status(index) for index in in_flight}

    in_flight_answers = run_with_mesh(stack, scenario)

    # And every review it was answering when the SIGTERM came was answered 200: the shutdown was graceful
    assert set(in_flight_answers.values()) == {200}, in_flight_answers
    # And the stable's clients saw 200s or the gateway's 503 while it was down, the canary's only 200s
    assert_the_fault_met_traffic(traffic, "stable")
    assert_clear_answers_only(traffic, {"stable": {"200", "503"}, "canary": {"200"}})
    figures = assert_nothing_lost(stack, traffic)
    save_figures("app-service-restarted", traffic, **figures)


# --- the store's disk ---------------------------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str):
    """A tmpfs of `size` mounted on `folder`: a disk that can fill up or turn read-only."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount(folder: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small or read-only filesystem needs root (CI runs as root)")
def test_a_full_or_read_only_disk_gives_a_clear_503_and_nothing_is_reported_saved_that_was_not(release, tmp_path):
    state = tmp_path / "state"
    with small_filesystem(state / "app-service-stable", "4m") as disk, running_stack(release, state) as stack:

        def reviews(count: int) -> list:
            async def send(mesh):
                return [
                    await mesh.api("POST", "/api/v1/sentiment", version="stable", json={"review": f"Meal {index}"})
                    for index in range(count)
                ]

            return run_with_mesh(stack, send)

        # Given a working store, then a disk with no space left
        working = reviews(5)
        assert {a.status for a in working} == {200}
        filler = disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False)
        full = reviews(20)
        # When the space comes back
        filler.unlink()
        after_space = reviews(5)
        # And when the app-service restarts on a disk that has turned read-only
        stack.supervisor.stop("app-service/stable")
        remount(disk, "ro")
        stack.supervisor.start(stack.supervisor.process("app-service/stable"))
        refusal = wait_for_exit(stack, "app-service/stable")
        read_only = reviews(5)
        remount(disk, "rw")
        stack.restart("app-service/stable")
        after_rw = reviews(5)
        answers = [*working, *full, *after_space, *read_only, *after_rw]
        acknowledged = {json.loads(a.body)["id"] for a in answers if a.status == 200}
        reviews_stored, _ = stored(stack, "stable")

    # Then a full disk is a clear 503 ("nothing was saved"), never a 500, and the service recovers by itself
    assert {a.status for a in full} <= {200, 503}
    assert any(a.status == 503 for a in full), "the disk never filled up: the test proves nothing"
    assert all(b"nothing was saved" in a.body for a in full if a.status == 503)
    assert {a.status for a in after_space} == {200}
    # And a read-only store stops the app-service with one line, and the gateway answers a clear 503 meanwhile
    assert refusal.startswith("app-service: cannot open the database"), refusal
    assert refusal.endswith("is read-only)"), refusal
    assert {a.status for a in read_only} == {503}
    assert {a.status for a in after_rw} == {200}
    # And the store holds exactly the reviews the system acknowledged: every one of them, and none it said it
    # had not saved
    assert reviews_stored == acknowledged, (
        f"lost {len(acknowledged - reviews_stored)}, saved though refused {len(reviews_stored - acknowledged)}"
    )
    statuses = {"200": len(acknowledged), "503": sum(a.status == 503 for a in answers)}
    write_figures(
        "store-disk-full-and-read-only",
        {"requests": len(answers), "statuses by version": {"stable": statuses}, "acknowledged": len(acknowledged),
         "lost": 0},
    )  # fmt: skip


def wait_for_exit(stack, name: str) -> str:
    """The last line a process wrote before it exited."""
    popen = stack.supervisor.process(name).popen
    log = stack.supervisor.log_path(name)
    wait_until(popen.poll, lambda code: code is not None, what=f"{name} to exit", context=log.read_text)
    lines = log.read_text().strip().splitlines()
    return lines[-1] if lines else ""
