"""Steady traffic through the mesh as pages send it, and the count of everything it saw.

Reviews at a steady rate (each followed by its correction, as a user who disagrees sends it), each labelled with
a run's own prefix so that the store's rows of one run can be told from another's. Every answer is kept: its
status, its arm, when it was sent and how long it took, so that a test can say which requests failed, whether
they were in flight when a fault struck, and that every review and correction acknowledged is in the store.
"""

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from support.mesh import Mesh
from support.waiting import wait_until

# Well under the gateway's rate limit (100 requests/s): every refusal is the fault's.
REVIEWS_PER_SECOND = 30


@dataclass(frozen=True)
class Answer:
    version: str
    kind: str  # review, correction
    status: int
    sent_at: float  # time.monotonic()
    seconds: float
    body: bytes


@dataclass
class Traffic:
    prefix: str
    answers: list[Answer] = field(default_factory=list)
    acknowledged_reviews: dict[str, set[str]] = field(default_factory=dict)
    acknowledged_corrections: dict[str, set[str]] = field(default_factory=dict)
    in_flight: int = 0

    def statuses(self, version: str | None = None) -> Counter:
        return Counter(str(a.status) for a in self.answers if version in (None, a.version))

    def failed(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status != 200]

    def reviews(self, version: str) -> int:
        return len(self.acknowledged_reviews.get(version, ()))

    def summary(self) -> str:
        acknowledged = {version: len(ids) for version, ids in self.acknowledged_reviews.items()}
        failures = [f"{a.status} {a.body[:120]!r}" for a in self.failed()[:3]]
        return f"answers {dict(self.statuses())}, reviews acknowledged {acknowledged}, failures e.g. {failures}"


class Load:
    """Reviews, each with its correction, to the given arms in turn, at a steady rate until stopped."""

    def __init__(self, mesh: Mesh, traffic: Traffic, versions: tuple[str, ...]) -> None:
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

    async def _send(self, version: str, kind: str, path: str, body: dict) -> Answer:
        traffic = self._traffic
        traffic.in_flight += 1
        started = time.monotonic()
        try:
            visit = await self._mesh.api("POST", path, version=version, json=body)
        finally:
            traffic.in_flight -= 1
        answer = Answer(version, kind, visit.status, started, time.monotonic() - started, visit.body)
        traffic.answers.append(answer)
        return answer

    async def _one(self, index: int) -> None:
        traffic = self._traffic
        version = self._versions[index % len(self._versions)]
        review = await self._send(version, "review", "/api/v1/sentiment", {"review": f"{traffic.prefix} {index}"})
        if review.status != 200:
            return
        body = json.loads(review.body)
        traffic.acknowledged_reviews.setdefault(version, set()).add(body["id"])
        corrected = "positive" if body["label"] == "negative" else "negative"
        path = f"/api/v1/reviews/{body['id']}/feedback"
        feedback = await self._send(version, "correction", path, {"label": corrected})
        if feedback.status == 200:
            traffic.acknowledged_corrections.setdefault(version, set()).add(body["id"])

    async def until(self, condition, what: str) -> None:
        """Keep the load going until `condition(traffic)` holds, with support.waiting's deadline."""
        await asyncio.to_thread(
            wait_until, lambda: condition(self._traffic), what=what, describe=lambda _: self._traffic.summary()
        )

    async def until_acknowledged(self, more: int, *versions: str) -> None:
        """Keep the load going until each arm has acknowledged `more` reviews than it has now."""
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
