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
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sentiment_devtools.system import ARMS
from support.mesh import REPO, Mesh, running_stack
from support.waiting import wait_until

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "var" / "test-artifacts" / "faults"
# The app-service's model-service timeout is 2 s (read) + 0.5 s (connect), retried once on connection errors.
SLOWEST_ACCEPTABLE_SECONDS = 6.0
# Under the API's global rate limit (100/s), from the crowd's 254 addresses, each far under its own bucket:
# every refusal is the fault's.
REVIEWS_PER_SECOND = 40
# Each phase of a scenario lasts until this many answers show its state: reviews flowing, or an outage met.
SETTLED_REVIEWS = 20


def _per_version_counts() -> dict[str, dict[str, int]]:
    return {version: {} for version in ARMS}


def _per_version_lists() -> dict[str, list[str]]:
    return {version: [] for version in ARMS}


@dataclass
class Traffic:
    """What the clients saw, per version: every answer, every error, the requests that started while a fault was
    on, and the reviews and corrections the system acknowledged."""

    statuses: dict[str, dict[str, int]] = field(default_factory=_per_version_counts)
    errors: dict[str, list[str]] = field(default_factory=_per_version_lists)
    slowest_seconds: float = 0.0
    acknowledged_reviews: dict[str, list[str]] = field(default_factory=_per_version_lists)
    acknowledged_corrections: dict[str, list[str]] = field(default_factory=_per_version_lists)
    # While a fault is on (fault_on), the statuses of the requests that started then.
    fault_on: bool = False
    during_fault: dict[str, dict[str, int]] = field(default_factory=_per_version_counts)

    def record(self, version: str, status: int, seconds: float, body: bytes, started_during_fault: bool) -> None:
        key = str(status)
        self.statuses[version][key] = self.statuses[version].get(key, 0) + 1
        if started_during_fault:
            self.during_fault[version][key] = self.during_fault[version].get(key, 0) + 1
        self.slowest_seconds = max(self.slowest_seconds, seconds)
        if status != 200:
            self.errors[version].append(f"{status} {body[:200]!r}")

    def count(self, status: str, version: str | None = None) -> int:
        return sum(self.statuses[v].get(status, 0) for v in ([version] if version else ARMS))

    @property
    def total(self) -> int:
        return sum(sum(statuses.values()) for statuses in self.statuses.values())

    def summary(self) -> str:
        acknowledged = {version: len(ids) for version, ids in self.acknowledged_reviews.items()}
        errors = {version: errors[:3] for version, errors in self.errors.items()}
        return f"answers by version and status {self.statuses}, reviews acknowledged {acknowledged}, errors {errors}"


class Load:
    """Reviews at a steady rate, alternating versions, each followed by a correction, until stopped."""

    def __init__(self, mesh: Mesh, traffic: Traffic, versions=ARMS) -> None:
        self._mesh = mesh
        self._traffic = traffic
        self._versions = versions
        self._stopped = asyncio.Event()
        # The reviews sent and not yet answered, by index: their version; and every review's answer, by index.
        self.in_flight: dict[int, str] = {}
        self.review_statuses: dict[int, int] = {}
        self._running = asyncio.create_task(self._run())

    async def _run(self) -> None:
        tasks = []
        while not self._stopped.is_set():
            tasks.append(asyncio.create_task(self._one(len(tasks))))
            await asyncio.sleep(1 / REVIEWS_PER_SECOND)
        await asyncio.gather(*tasks)

    async def _one(self, index: int) -> None:
        mesh, traffic = self._mesh, self._traffic
        version = self._versions[index % len(self._versions)]
        started, during_fault = time.monotonic(), traffic.fault_on
        self.in_flight[index] = version
        review = await mesh.api("POST", "/api/v1/sentiment", version=version, json={"review": f"Soup number {index}."})
        del self.in_flight[index]
        self.review_statuses[index] = review.status
        traffic.record(version, review.status, time.monotonic() - started, review.body, during_fault)
        if review.status != 200:
            return
        body = json.loads(review.body)
        traffic.acknowledged_reviews[version].append(body["id"])
        corrected = "positive" if body["label"] == "negative" else "negative"
        started, during_fault = time.monotonic(), traffic.fault_on
        feedback = await mesh.api(
            "POST", f"/api/v1/reviews/{body['id']}/feedback", version=version, json={"label": corrected}
        )
        traffic.record(version, feedback.status, time.monotonic() - started, feedback.body, during_fault)
        if feedback.status == 200:
            traffic.acknowledged_corrections[version].append(body["id"])

    async def until(self, condition, what: str) -> None:
        """Keep the load going until `condition(traffic)` holds, with support.waiting's deadline."""
        await asyncio.to_thread(
            wait_until, lambda: condition(self._traffic), what=what, describe=lambda _: self._traffic.summary()
        )

    async def until_acknowledged(self, *versions: str, more: int = SETTLED_REVIEWS) -> None:
        """Keep the load going until each version has acknowledged `more` reviews than it has now."""
        marks = {version: len(self._traffic.acknowledged_reviews[version]) for version in versions}
        await self.until(
            lambda traffic: all(len(traffic.acknowledged_reviews[v]) >= marks[v] + more for v in versions),
            f"{more} more reviews acknowledged by {' and '.join(versions)}",
        )

    async def stop(self) -> None:
        """Stop sending, and wait for every answer."""
        self._stopped.set()
        await self._running


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
        lost_reviews = set(traffic.acknowledged_reviews[version]) - reviews
        lost_corrections = set(traffic.acknowledged_corrections[version]) - corrections
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
        statuses = traffic.statuses[version]
        errors = traffic.errors[version]
        assert set(statuses) <= allowed[version], f"{version}: {statuses}; {len(errors)} errors, e.g. {errors[:5]}"
    assert traffic.slowest_seconds < SLOWEST_ACCEPTABLE_SECONDS, traffic.slowest_seconds


def assert_the_fault_met_traffic(traffic: Traffic, version: str) -> None:
    """Requests of `version` started while the fault was on: otherwise the scenario proved nothing."""
    assert sum(traffic.during_fault[version].values()) > 0, f"no {version} request met the fault: {traffic.summary()}"


def save_figures(name: str, traffic: Traffic, **figures: object) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "requests": traffic.total,
        "statuses by version": traffic.statuses,
        "slowest_seconds": round(traffic.slowest_seconds, 2),
    }
    (ARTIFACTS / f"{name}.json").write_text(json.dumps({**summary, **figures}, indent=2) + "\n")
    print(f"{name}: {json.dumps({**summary, **figures})}")


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
        during = traffic.total
        await load.until(lambda t: t.count("503", "stable") >= SETTLED_REVIEWS, f"{SETTLED_REVIEWS} stable 503s")
        await asyncio.to_thread(stack.restart, "model-service/stable")
        traffic.fault_on = False
        # Then the stable version answers again by itself once its model-service is back, the canary all along
        await load.until_acknowledged(*ARMS)
        await load.stop()
        return during

    started_during = run_with_mesh(stack, scenario)

    # And the stable's only errors are 503s that say what is wrong, none slow; the canary never noticed
    assert_clear_answers_only(traffic, {"stable": {"200", "503"}, "canary": {"200"}})
    assert traffic.errors["stable"]
    assert all("model-service" in error for error in traffic.errors["stable"]), traffic.errors["stable"]
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
        await load.until(lambda t: sum(t.during_fault["canary"].values()) >= 1, "a canary request while it is down")
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


def test_a_graceful_restart_of_the_app_service_mid_traffic_finishes_what_it_was_answering_and_loses_nothing(stack):
    traffic = Traffic()
    app, model = "app-service/stable", "model-service/stable"

    async def scenario(mesh):
        # Given reviews flowing to both versions
        load = Load(mesh, traffic)
        await load.until_acknowledged(*ARMS)
        # And stable reviews in flight at the app-service: its model-service frozen, so they wait on it
        stack.supervisor.send_signal(model, signal.SIGSTOP)
        await load.until(
            lambda _: sum(v == "stable" for v in load.in_flight.values()) >= 3, "3 stable reviews in flight"
        )
        # When the app-service gets SIGTERM, and its model-service thaws once the shutdown has begun
        traffic.fault_on = True
        in_flight = sorted(index for index, version in load.in_flight.items() if version == "stable")
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
        return {index: load.review_statuses[index] for index in in_flight}

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
    save_figures(
        "store-disk-full-and-read-only",
        Traffic(statuses={"stable": {"200": len(acknowledged), "503": sum(a.status == 503 for a in answers)}}),
        acknowledged=len(acknowledged),
        lost=0,
    )


def wait_for_exit(stack, name: str) -> str:
    """The last line a process wrote before it exited."""
    popen = stack.supervisor.process(name).popen
    log = stack.supervisor.log_path(name)
    wait_until(popen.poll, lambda code: code is not None, what=f"{name} to exit", context=log.read_text)
    lines = log.read_text().strip().splitlines()
    return lines[-1] if lines else ""
