"""The store's contract, held by both stores alike: SQLite and PostgreSQL, one suite, each test run on each.

A review and its feedback survive reopening; the first feedback wins, also when two writers (two replicas)
race on one database; each write returns its visitor's counts, exact with two writers at once; the schema
comes from the versioned migrations, applied once however many replicas start together, and a database of
release 1.0.0 is migrated keeping its reviews; a database written by a newer release is refused, naming both
versions.
"""

import asyncio
import contextlib
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Coroutine
from concurrent.futures import Future

import asyncpg
import pytest
from app_service.migrations import MIGRATIONS, SCHEMA_VERSION
from app_service.store import (
    FeedbackOutcome,
    Label,
    LabelledReview,
    NewReview,
    StoreError,
    VisitorCounts,
    open_store,
)
from app_service.visitor_sums import ONE_REVIEW, increments, one_feedback
from support.visitor_sums import sums_in_store
from support.waiting import DEADLINE_SECONDS

SQLITE = "sqlite:///"

# The schema release 1.0.0 wrote (schema version 1), before the visitor and the experiment were stored: each
# store's first migration, and the version it recorded.
SCHEMA_OF_RELEASE_1_0_0 = {
    "sqlite": (*MIGRATIONS[0].sqlite, "PRAGMA user_version=1"),
    "postgresql": (
        *MIGRATIONS[0].postgresql,
        "CREATE TABLE schema_migrations"
        " (version INTEGER PRIMARY KEY, summary TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        "INSERT INTO schema_migrations (version, summary) VALUES (1, 'the reviews')",
    ),
}
# A review of release 1.0.0, in the statement both databases take.
REVIEW_OF_RELEASE_1_0_0 = (
    "INSERT INTO reviews (id, review, predicted_label, confidence, model_version, model_service_version,"
    " app_version, created_at) VALUES ('old', 'Cold soup.', 'positive', 0.6, 'v1', 'stable', 'stable', {now})"
)


def new_review(
    review_id: str,
    text: str = "Lovely soup.",
    label: Label = "positive",
    visitor_id: str | None = None,
    experiment_id: str = "",
    app_version: str = "stable",
) -> NewReview:
    return NewReview(review_id, text, label, 0.9, "v1.0.0", "stable", app_version, visitor_id, experiment_id)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty database of each kind: a new SQLite file, or a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        return f"{SQLITE}{tmp_path / 'reviews.db'}"
    return request.getfixturevalue("postgres_url")


def database_of(url: str) -> str:
    """What support.visitor_sums reads: the SQLite file, or the PostgreSQL URL."""
    return url.removeprefix(SQLITE)


async def execute(url: str, *statements: str) -> list[tuple]:
    """Run statements on the database beside the store, as another client; the last one's rows."""
    if url.startswith(SQLITE):
        with contextlib.closing(sqlite3.connect(url.removeprefix(SQLITE), isolation_level=None)) as db:
            rows: list[tuple] = []
            for statement in statements:
                rows = db.execute(statement).fetchall()
            return rows
    connection = await asyncpg.connect(url)
    try:
        records = []
        for statement in statements:
            records = await connection.fetch(statement)
        return [tuple(record) for record in records]
    finally:
        await connection.close()


async def schema_version(url: str) -> int:
    query = "PRAGMA user_version" if url.startswith(SQLITE) else "SELECT max(version) FROM schema_migrations"
    [(version,)] = await execute(url, query)
    return version


async def set_schema_version(url: str, version: int) -> None:
    """What a newer release would leave behind: the database marked at `version`."""
    if url.startswith(SQLITE):
        await execute(url, f"PRAGMA user_version={version}")
        return
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("INSERT INTO schema_migrations (version, summary) VALUES ($1, 'newer')", version)
    finally:
        await connection.close()


class Writer:
    """A store on the database with a thread and an event loop of its own, as a replica's process has: two
    Writers on one database are two writers at once (for PostgreSQL, two pools)."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.store = self.call(open_store(url))

    def submit(self, coroutine: Coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call(self, coroutine: Coroutine):
        return self.submit(coroutine).result(timeout=DEADLINE_SECONDS)

    def close(self) -> None:
        with contextlib.suppress(AttributeError):  # no store: opening it failed
            self.call(self.store.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=DEADLINE_SECONDS)
        self._loop.close()


def test_reviews_and_feedback_survive_reopening(database_url):
    async def scenario():
        store = await open_store(database_url)
        await store.add(new_review("a", "First."))
        await store.add(new_review("b", "Second.", "negative"))
        await store.add(new_review("c", "Third."))
        await store.record_feedback("c", "positive")
        await store.record_feedback("b", "positive")
        await store.close()

        reopened = await open_store(database_url)
        try:
            return (
                await reopened.labelled_reviews(),
                await reopened.count_awaiting_feedback(),
                (await reopened.record_feedback("b", "positive")).outcome,
            )
        finally:
            await reopened.close()

    labelled, awaiting, again = asyncio.run(scenario())

    assert labelled == [LabelledReview("Second.", "positive"), LabelledReview("Third.", "positive")]  # oldest first
    assert awaiting == 1
    assert again is FeedbackOutcome.UNCHANGED


def test_the_first_feedback_wins(database_url):
    async def scenario():
        store = await open_store(database_url)
        try:
            await store.add(new_review("a"))
            return [await store.record_feedback(review, label) for review, label in
                    [("a", "negative"), ("a", "negative"), ("a", "positive"), ("nope", "positive")]]  # fmt: skip
        finally:
            await store.close()

    first, same, other, unknown = asyncio.run(scenario())

    assert (first.outcome, first.predicted_label, first.feedback_label) == (
        FeedbackOutcome.RECORDED,
        "positive",
        "negative",
    )
    assert same.outcome is FeedbackOutcome.UNCHANGED
    assert (other.outcome, other.feedback_label) == (FeedbackOutcome.CONFLICT, "negative")
    assert unknown is None


def test_the_first_feedback_wins_when_two_writers_race_on_one_review(database_url):
    # Given one database, two replicas' stores on it (two connections, or two pools), and reviews without feedback
    writers = []
    try:
        writers = [Writer(database_url), Writer(database_url)]
        ids = [f"r{index}" for index in range(200)]
        for review_id in ids:
            writers[0].call(writers[0].store.add(new_review(review_id)))

        # When, for each review, both give their feedback at the same moment: different labels on the even ones,
        # the same label on the odd ones
        async def give(store, review_id: str, label: Label, start: threading.Barrier):
            start.wait(timeout=DEADLINE_SECONDS)  # this writer's loop waits for the other's
            return await store.record_feedback(review_id, label)

        def race(review_id: str, labels: tuple[Label, Label]) -> list:
            start = threading.Barrier(2)
            answers = [
                w.submit(give(w.store, review_id, label, start)) for w, label in zip(writers, labels, strict=True)
            ]
            return [answer.result(timeout=DEADLINE_SECONDS) for answer in answers]

        different, same = ("negative", "positive"), ("negative", "negative")
        results = {review_id: race(review_id, different if index % 2 == 0 else same)
                   for index, review_id in enumerate(ids)}  # fmt: skip
    finally:
        for writer in writers:
            writer.close()
    stored = dict(asyncio.run(execute(database_url, "SELECT id, feedback_label FROM reviews")))

    # Then exactly one of the two recorded it, the other was told what was recorded, and that is what is stored
    for index, (review_id, answers) in enumerate(results.items()):
        outcomes = sorted(answer.outcome.value for answer in answers)
        expected = ["conflict", "recorded"] if index % 2 == 0 else ["recorded", "unchanged"]
        assert outcomes == expected, (review_id, answers)
        winner = next(answer for answer in answers if answer.outcome is FeedbackOutcome.RECORDED)
        assert {answer.feedback_label for answer in answers} == {winner.feedback_label} == {stored[review_id]}


def test_each_write_returns_its_visitors_counts_in_this_experiment_and_arm(database_url):
    ana, bo = "a" * 22, "b" * 22

    async def scenario():
        store = await open_store(database_url)
        try:
            counts = [
                await store.add(new_review("1", visitor_id=ana)),
                await store.add(new_review("2", visitor_id=ana, label="negative")),
                (await store.record_feedback("2", "positive")).visitor,
                (await store.record_feedback("1", "positive")).visitor,
                await store.add(new_review("3", visitor_id=bo)),
                # The same id in another experiment, or on the other arm, is another unit
                await store.add(new_review("4", visitor_id=ana, experiment_id="model-version")),
                await store.add(new_review("5", visitor_id=ana, app_version="canary")),
                # No visitor id: the review is a visitor of its own
                await store.add(new_review("6")),
                (await store.record_feedback("6", "negative")).visitor,
            ]
            # Feedback again, or another label, counts nothing
            again = [(await store.record_feedback("2", label)).visitor for label in ("positive", "negative")]
            return counts, again
        finally:
            await store.close()

    counts, again = asyncio.run(scenario())

    assert counts == [
        VisitorCounts(1, 0, 0), VisitorCounts(2, 0, 0), VisitorCounts(2, 1, 1), VisitorCounts(2, 2, 1),
        VisitorCounts(1, 0, 0), VisitorCounts(1, 0, 0), VisitorCounts(1, 0, 0),
        VisitorCounts(1, 0, 0), VisitorCounts(1, 1, 1),
    ]  # fmt: skip
    assert again == [None, None]


WRITES = 5000


def test_two_writers_at_once_count_every_visitor_exactly(database_url):
    """Two stores on one database, as two replicas are, each writing reviews and feedback of the same few visitors
    as fast as it can: the sums of the increments each derived from its writes' counts are those of the rows."""
    visitors = [f"{letter * 22}" for letter in "abc"] + [None]
    written: list[str] = []  # the reviews' ids, for feedback from either writer
    start = threading.Barrier(2)
    totals: list[Counter] = []
    failures: list[BaseException] = []

    async def write(store, rng: random.Random, name: str) -> Counter:
        counted: Counter = Counter()
        for number in range(WRITES):
            if written and rng.random() < 0.45:
                review_id = rng.choice(written)
                corrected = rng.random() < 0.3
                feedback = await store.record_feedback(review_id, "negative" if corrected else "positive")
                if feedback.outcome is FeedbackOutcome.RECORDED:
                    counted.update({"feedback": 1, "corrections": int(corrected)})  # the counters of F and C
                    counted.update(increments(feedback.visitor, one_feedback(corrected)))
            else:
                review_id = f"{name}-{number}"
                counts = await store.add(new_review(review_id, visitor_id=rng.choice(visitors)))
                written.append(review_id)
                counted.update({"reviews": 1})  # the counter of M
                counted.update(increments(counts, ONE_REVIEW))
        return counted

    async def writer(seed: int) -> Counter:
        store = await open_store(database_url)
        try:
            start.wait(timeout=DEADLINE_SECONDS)  # both are open: they write at once
            return await write(store, random.Random(seed), f"writer{seed}")
        finally:
            await store.close()

    def in_thread(seed: int) -> None:
        try:
            totals.append(asyncio.run(writer(seed)))
        except Exception as error:  # shown by the assertion below, not lost in the thread
            failures.append(error)
            start.abort()  # the other writer stops waiting

    threads = [threading.Thread(target=in_thread, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    counted = totals[0] + totals[1]
    expected = sums_in_store(database_of(database_url))
    assert expected["reviews"] == len(written)
    assert {name: counted[name] for name in expected} == expected


def test_replicas_starting_together_migrate_the_schema_once(database_url):
    async def scenario():
        stores = await asyncio.gather(*(open_store(database_url) for _ in range(4)))
        for store in stores:
            await store.close()
        return await schema_version(database_url)

    assert asyncio.run(scenario()) == SCHEMA_VERSION


def test_a_database_of_release_1_0_0_is_migrated_keeping_its_reviews_as_visitors_of_their_own(database_url):
    kind = "sqlite" if database_url.startswith(SQLITE) else "postgresql"
    now = "'2026-01-01T00:00:00.000+00:00'"

    async def scenario():
        # Given a database as release 1.0.0 left it, with a review of then
        await execute(database_url, *SCHEMA_OF_RELEASE_1_0_0[kind], REVIEW_OF_RELEASE_1_0_0.format(now=now))
        # When this release opens it and writes
        store = await open_store(database_url)
        try:
            feedback = await store.record_feedback("old", "negative")
            counts = await store.add(new_review("new", visitor_id="v" * 22, experiment_id="confidence-display"))
        finally:
            await store.close()
        rows = await execute(
            database_url, "SELECT id, visitor_id, experiment_id, app_version FROM reviews ORDER BY created_at"
        )
        return feedback, counts, await schema_version(database_url), rows

    feedback, counts, version, rows = asyncio.run(scenario())

    # Then the old review is a visitor of its own, the new one its visitor's, and the schema is this release's
    assert (feedback.outcome, feedback.visitor) == (FeedbackOutcome.RECORDED, VisitorCounts(1, 1, 1))
    assert counts == ONE_REVIEW
    assert version == SCHEMA_VERSION == 2
    assert rows == [("old", None, "", "stable"), ("new", "v" * 22, "confidence-display", "stable")]


def test_a_database_from_a_newer_release_is_refused_naming_both_versions(database_url):
    async def scenario():
        await (await open_store(database_url)).close()
        await set_schema_version(database_url, SCHEMA_VERSION + 6)
        await open_store(database_url)

    with pytest.raises(
        StoreError, match=rf"at version {SCHEMA_VERSION + 6}, newer than this service's {SCHEMA_VERSION}"
    ):
        asyncio.run(scenario())


def test_every_migration_has_the_statements_of_both_stores_numbered_one_by_one():
    assert [migration.version for migration in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    assert SCHEMA_VERSION == 2
    for migration in MIGRATIONS:
        assert migration.sqlite, migration
        assert migration.postgresql, migration
