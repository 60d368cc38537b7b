"""Steady traffic through the mesh as pages send it, and the count of everything it saw: the fault tests' one helper.

Reviews at a steady rate (each followed by its correction, as a user who disagrees sends it), each labelled with
a run's own prefix so that the store's rows of one run can be told from another's. Every answer is kept: its
review's number, its arm, its status, when it was sent, how long it took, and whether a fault was on then, so
that a test can say which requests failed, whether they were in flight when a fault struck, and that every
review and correction acknowledged is in the store. The figures go to var/test-artifacts/faults/ and
docs/reliability.md.
"""

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sentiment_devtools.system import ARMS

from support.mesh import REPO, Mesh
from support.waiting import wait_until

ARTIFACTS = REPO / "var" / "test-artifacts" / "faults"
# Under the API's global rate limit (100/s), from the crowd's 254 addresses, each far under its own bucket:
# every refusal is the fault's.
REVIEWS_PER_SECOND = 40
# Each phase of a scenario lasts until this many more reviews are acknowledged: reviews flowing, or an outage met.
SETTLED_REVIEWS = 20


@dataclass(frozen=True)
class Answer:
    index: int  # the review's number in the run, the same for its correction
    version: str
    kind: str  # review, correction
    status: int
    sent_at: float  # time.monotonic()
    seconds: float
    body: bytes
    during_fault: bool  # sent while the test had a fault on (Traffic.fault_on)


@dataclass
class Traffic:
    prefix: str = "Soup number"
    answers: list[Answer] = field(default_factory=list)
    acknowledged_reviews: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    acknowledged_corrections: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # The requests sent and not yet answered: (the review's number, kind) -> its arm.
    in_flight: dict[tuple[int, str], str] = field(default_factory=dict)
    # While a fault is on, the answers are marked as sent during it.
    fault_on: bool = False

    def statuses(self, version: str | None = None) -> Counter:
        return Counter(str(a.status) for a in self.answers if version in (None, a.version))

    def during_fault(self, version: str | None = None) -> Counter:
        """The statuses of the requests sent while the fault was on."""
        return Counter(str(a.status) for a in self.answers if a.during_fault and version in (None, a.version))

    def failed(self, version: str | None = None) -> list[Answer]:
        return [a for a in self.answers if a.status != 200 and version in (None, a.version)]

    def reviews(self, version: str) -> int:
        return len(self.acknowledged_reviews[version])

    def review_status(self, index: int) -> int | None:
        """The status of review number `index`; None while it is unanswered."""
        return next((a.status for a in self.answers if a.index == index and a.kind == "review"), None)

    def slowest_seconds(self) -> float:
        return max((a.seconds for a in self.answers), default=0.0)

    def summary(self) -> str:
        acknowledged = {version: len(ids) for version, ids in self.acknowledged_reviews.items()}
        failures = [f"{a.version} {a.status} {a.body[:120]!r}" for a in self.failed()[:3]]
        return f"answers {dict(self.statuses())}, reviews acknowledged {acknowledged}, failures e.g. {failures}"

    def figures(self) -> dict:
        versions = sorted({a.version for a in self.answers})
        return {
            "requests": len(self.answers),
            "statuses by version": {version: dict(self.statuses(version)) for version in versions},
            "slowest_seconds": round(self.slowest_seconds(), 2),
        }


class Load:
    """Reviews, each with its correction, to the given arms in turn, at a steady rate until stopped."""

    def __init__(self, mesh: Mesh, traffic: Traffic, versions: tuple[str, ...] = ARMS) -> None:
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

    async def _send(self, index: int, version: str, kind: str, path: str, body: dict) -> Answer:
        traffic = self._traffic
        traffic.in_flight[index, kind] = version
        started, during_fault = time.monotonic(), traffic.fault_on
        try:
            visit = await self._mesh.api("POST", path, version=version, json=body)
        finally:
            del traffic.in_flight[index, kind]
        seconds = time.monotonic() - started
        answer = Answer(index, version, kind, visit.status, started, seconds, visit.body, during_fault)
        traffic.answers.append(answer)
        return answer

    async def _one(self, index: int) -> None:
        traffic = self._traffic
        version = self._versions[index % len(self._versions)]
        review = await self._send(
            index, version, "review", "/api/v1/sentiment", {"review": f"{traffic.prefix} {index}."}
        )
        if review.status != 200:
            return
        body = json.loads(review.body)
        traffic.acknowledged_reviews[version].add(body["id"])
        corrected = "positive" if body["label"] == "negative" else "negative"
        path = f"/api/v1/reviews/{body['id']}/feedback"
        feedback = await self._send(index, version, "correction", path, {"label": corrected})
        if feedback.status == 200:
            traffic.acknowledged_corrections[version].add(body["id"])

    async def until(self, condition, what: str) -> None:
        """Keep the load going until `condition(traffic)` holds, with support.waiting's deadline."""
        await asyncio.to_thread(
            wait_until, lambda: condition(self._traffic), what=what, describe=lambda _: self._traffic.summary()
        )

    async def until_acknowledged(self, *versions: str, more: int = SETTLED_REVIEWS) -> None:
        """Keep the load going until each arm (by default, each this load sends to) has acknowledged `more`
        reviews than it has now."""
        versions = versions or self._versions
        marks = {version: self._traffic.reviews(version) for version in versions}
        await self.until(
            lambda traffic: all(traffic.reviews(v) >= marks[v] + more for v in versions),
            f"{more} more reviews acknowledged by {' and '.join(versions)}",
        )

    async def stop(self) -> None:
        """Stop sending, and wait for every answer."""
        self._stopped.set()
        await self._running


def write_figures(name: str, figures: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{name}: {json.dumps(figures)}")


def save_figures(name: str, traffic: Traffic, **figures: object) -> None:
    """The traffic's requests, statuses by arm and slowest answer, with the test's own figures."""
    write_figures(name, {**traffic.figures(), **figures})
