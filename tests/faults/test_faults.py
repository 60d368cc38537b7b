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
REVIEWS_PER_SECOND = 40  # well under the gateway's rate limit (100/s), so every refusal is the fault's
# Each phase of a scenario lasts until this many answers show its state: reviews flowing, or an outage met.
SETTLED_REVIEWS = 20


@dataclass
class Traffic:
    """What the clients saw: every answer, and the reviews and corrections the system acknowledged."""

    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    slowest_seconds: float = 0.0
    acknowledged_reviews: dict[str, list[str]] = field(default_factory=lambda: {"stable": [], "canary": []})
    acknowledged_corrections: dict[str, list[str]] = field(default_factory=lambda: {"stable": [], "canary": []})

    def record(self, status: int, seconds: float, body: bytes) -> None:
        key = str(status)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.slowest_seconds = max(self.slowest_seconds, seconds)
        if status != 200 and len(self.errors) < 20:
            self.errors.append(f"{status} {body[:200]!r}")

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        acknowledged = {version: len(ids) for version, ids in self.acknowledged_reviews.items()}
        return f"answers by status {self.statuses}, reviews acknowledged {acknowledged}, errors {self.errors[:3]}"


class Load:
    """Reviews at a steady rate, alternating versions, each followed by a correction, until stopped."""

    def __init__(self, mesh: Mesh, traffic: Traffic, versions=ARMS) -> None:
        self._mesh = mesh
        self._traffic = traffic
        self._versions = versions
        self._stopped = asyncio.Event()
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
        started = time.monotonic()
        review = await mesh.api("POST", "/api/v1/sentiment", version=version, json={"review": f"Soup number {index}."})
        traffic.record(review.status, time.monotonic() - started, review.body)
        if review.status != 200:
            return
        body = json.loads(review.body)
        traffic.acknowledged_reviews[version].append(body["id"])
        corrected = "positive" if body["label"] == "negative" else "negative"
        started = time.monotonic()
        feedback = await mesh.api(
            "POST", f"/api/v1/reviews/{body['id']}/feedback", version=version, json={"label": corrected}
        )
        traffic.record(feedback.status, time.monotonic() - started, feedback.body)
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


def assert_clear_answers_only(traffic: Traffic, allowed: set[str]) -> None:
    assert set(traffic.statuses) <= allowed, f"{traffic.statuses}; e.g. {traffic.errors[:5]}"
    assert traffic.slowest_seconds < SLOWEST_ACCEPTABLE_SECONDS, traffic.slowest_seconds


def save_figures(name: str, traffic: Traffic, **figures: object) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "requests": traffic.total,
        "statuses": traffic.statuses,
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
        stack.supervisor.stop("model-service/stable", signal.SIGKILL)
        during = traffic.total
        await load.until(lambda t: t.statuses.get("503", 0) >= SETTLED_REVIEWS, f"{SETTLED_REVIEWS} answers 503")
        await asyncio.to_thread(stack.restart, "model-service/stable")
        # Then the stable version answers again by itself once its model-service is back, the canary all along
        await load.until_acknowledged(*ARMS)
        await load.stop()
        return during

    started_during = run_with_mesh(stack, scenario)

    # And the only errors are 503s that say what is wrong, none slow
    assert_clear_answers_only(traffic, {"200", "503"})
    assert all("model-service" in error for error in traffic.errors if error.startswith("503")), traffic.errors
    figures = assert_nothing_lost(stack, traffic)
    save_figures("model-service-killed", traffic, requests_before_the_kill=started_during, **figures)


def test_the_app_service_crashing_mid_traffic_loses_no_acknowledged_review_or_correction(stack):
    traffic = Traffic()

    async def scenario(mesh):
        # Given reviews and corrections flowing to both versions
        load = Load(mesh, traffic)
        await load.until_acknowledged(*ARMS)
        # When the canary app-service crashes (SIGKILL: no graceful shutdown) and is restarted
        await asyncio.to_thread(stack.restart, "app-service/canary", signal.SIGKILL)
        await load.until_acknowledged("canary")
        await load.stop()

    run_with_mesh(stack, scenario)

    # Then clients saw 200s or the gateway's 503 while it was down, and every acknowledged write survived
    assert_clear_answers_only(traffic, {"200", "503"})
    figures = assert_nothing_lost(stack, traffic)
    save_figures("app-service-crashed", traffic, **figures)


def test_a_graceful_restart_of_the_app_service_mid_traffic_loses_nothing(stack):
    traffic = Traffic()

    async def scenario(mesh):
        load = Load(mesh, traffic)
        await load.until_acknowledged(*ARMS)
        await asyncio.to_thread(stack.restart, "app-service/stable", signal.SIGTERM)
        await load.until_acknowledged("stable")
        await load.stop()

    run_with_mesh(stack, scenario)

    assert_clear_answers_only(traffic, {"200", "503"})
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
        assert {a.status for a in reviews(5)} == {200}
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
        acknowledged = {json.loads(a.body)["id"] for a in [*full, *after_space, *after_rw] if a.status == 200}
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
    # And every review the system acknowledged is stored
    assert acknowledged <= reviews_stored
    save_figures(
        "store-disk-full-and-read-only",
        Traffic(statuses={"200": len(acknowledged), "503": sum(a.status == 503 for a in [*full, *read_only])}),
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
