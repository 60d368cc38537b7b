"""The store's contract, held by both stores alike: SQLite and PostgreSQL, one suite, each test run on each.

A review and its feedback survive reopening; the first feedback wins, also when two writers (two replicas)
race on one database; the schema comes from the versioned migrations, applied once however many replicas start
together; a database written by a newer release is refused, naming both versions.
"""

import asyncio
import contextlib
import sqlite3

import asyncpg
import pytest
from app_service.migrations import MIGRATIONS, SCHEMA_VERSION
from app_service.store import FeedbackOutcome, Label, LabelledReview, NewReview, StoreError, open_store


def new_review(review_id: str, text: str = "Lovely soup.", label: Label = "positive") -> NewReview:
    return NewReview(review_id, text, label, 0.9, "v1.0.0", "stable", "stable")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty database of each kind: a new SQLite file, or a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'reviews.db'}"
    return request.getfixturevalue("postgres_url")


async def schema_version(url: str) -> int:
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            return db.execute("PRAGMA user_version").fetchone()[0]
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval("SELECT max(version) FROM schema_migrations")
    finally:
        await connection.close()


async def set_schema_version(url: str, version: int) -> None:
    """What a newer release would leave behind: the database marked at `version`."""
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            db.execute(f"PRAGMA user_version={version}")
        return
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("INSERT INTO schema_migrations (version, summary) VALUES ($1, 'newer')", version)
    finally:
        await connection.close()


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


def test_the_first_feedback_wins_when_two_replicas_race_on_one_database(database_url):
    reviews = [f"r{index}" for index in range(40)]

    async def scenario():
        # Given two replicas of one arm, each with its own store on the arm's database
        one, two = await open_store(database_url), await open_store(database_url)
        try:
            for review in reviews:
                await one.add(new_review(review))
            # When both record a different label for every review at once
            answers = await asyncio.gather(
                *(store.record_feedback(review, label) for review in reviews
                  for store, label in ((one, "negative"), (two, "positive")))
            )  # fmt: skip
            return answers, await one.labelled_reviews()
        finally:
            await one.close()
            await two.close()

    answers, stored = asyncio.run(scenario())

    # Then each review has exactly one winner, the loser is told which label won, and the winner's label is stored
    by_review = [answers[index : index + 2] for index in range(0, len(answers), 2)]
    for review, (negative, positive) in zip(reviews, by_review, strict=True):
        outcomes = {negative.outcome, positive.outcome}
        assert outcomes == {FeedbackOutcome.RECORDED, FeedbackOutcome.CONFLICT}, (review, negative, positive)
        winner = negative if negative.outcome is FeedbackOutcome.RECORDED else positive
        assert {negative.feedback_label, positive.feedback_label} == {winner.feedback_label}
    assert len(stored) == len(reviews)


def test_replicas_starting_together_migrate_the_schema_once(database_url):
    async def scenario():
        stores = await asyncio.gather(*(open_store(database_url) for _ in range(4)))
        for store in stores:
            await store.close()
        return await schema_version(database_url)

    assert asyncio.run(scenario()) == SCHEMA_VERSION


def test_a_database_from_a_newer_release_is_refused_naming_both_versions(database_url):
    async def scenario():
        await (await open_store(database_url)).close()
        await set_schema_version(database_url, SCHEMA_VERSION + 6)
        await open_store(database_url)

    with pytest.raises(
        StoreError, match=rf"at version {SCHEMA_VERSION + 6}, newer than this service's {SCHEMA_VERSION}"
    ):
        asyncio.run(scenario())


def test_every_migration_has_the_statements_of_both_stores():
    assert [migration.version for migration in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    for migration in MIGRATIONS:
        assert migration.sqlite, migration
        assert migration.postgresql, migration
