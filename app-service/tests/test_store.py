"""The SQLite store: created at start, migrated step by step, durable across restarts, first feedback wins,
and each write's visitor counts exact with two writers at once."""

import asyncio
import contextlib
import random
import sqlite3
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

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

# The schema release 1.0.0 wrote, before the visitor and the experiment were stored.
SCHEMA_OF_RELEASE_1_0_0 = """
CREATE TABLE reviews (
    id                    TEXT PRIMARY KEY,
    review                TEXT NOT NULL,
    predicted_label       TEXT NOT NULL CHECK (predicted_label IN ('negative', 'positive')),
    confidence            REAL NOT NULL,
    model_version         TEXT NOT NULL,
    model_service_version TEXT NOT NULL,
    app_version           TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    feedback_label        TEXT CHECK (feedback_label IN ('negative', 'positive')),
    feedback_at           TEXT
);
PRAGMA user_version=1;
"""


def new_review(
    review_id: str,
    text: str = "Lovely soup.",
    label: Label = "positive",
    visitor_id: str | None = None,
    experiment_id: str = "",
    app_version: str = "stable",
) -> NewReview:
    return NewReview(review_id, text, label, 0.9, "v1.0.0", "stable", app_version, visitor_id, experiment_id)


def run(coroutine):
    return asyncio.run(coroutine)


def test_the_schema_is_created_at_first_start_in_wal_mode(tmp_path):
    path = tmp_path / "nested" / "reviews.db"

    open_store(str(path)).close()

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT count(*) FROM reviews").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM visitors").fetchone() == (0,)


def test_the_migrations_are_numbered_one_by_one():
    assert [migration.version for migration in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert SCHEMA_VERSION == MIGRATIONS[-1].version == 2


def test_a_database_of_release_1_0_0_is_migrated_keeping_its_reviews_as_visitors_of_their_own(tmp_path):
    path = tmp_path / "reviews.db"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(SCHEMA_OF_RELEASE_1_0_0)
        db.execute(
            "INSERT INTO reviews (id, review, predicted_label, confidence, model_version, model_service_version,"
            " app_version, created_at) VALUES ('old', 'Cold soup.', 'positive', 0.6, 'v1', 'stable', 'stable', 'then')"
        )
        db.commit()

    store = open_store(str(path))

    feedback = run(store.record_feedback("old", "negative"))
    assert (feedback.outcome, feedback.visitor) == (FeedbackOutcome.RECORDED, VisitorCounts(1, 1, 1))
    assert run(store.add(new_review("new", visitor_id="v" * 22, experiment_id="confidence-display"))) == ONE_REVIEW
    store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
        rows = db.execute("SELECT id, visitor_id, experiment_id, app_version FROM reviews ORDER BY rowid").fetchall()
    assert rows == [("old", None, "", "stable"), ("new", "v" * 22, "confidence-display", "stable")]


def test_reviews_and_feedback_survive_reopening(tmp_path):
    path = str(tmp_path / "reviews.db")
    store = open_store(path)
    run(store.add(new_review("a", "First.")))
    run(store.add(new_review("b", "Second.", "negative")))
    run(store.record_feedback("b", "positive"))
    store.close()

    reopened = open_store(path)

    assert run(reopened.labelled_reviews()) == [LabelledReview("Second.", "positive")]
    assert run(reopened.count_awaiting_feedback()) == 1
    assert run(reopened.record_feedback("b", "positive")).outcome is FeedbackOutcome.UNCHANGED


def test_the_first_feedback_wins(tmp_path):
    store = open_store(str(tmp_path / "reviews.db"))
    run(store.add(new_review("a")))

    first = run(store.record_feedback("a", "negative"))
    same = run(store.record_feedback("a", "negative"))
    other = run(store.record_feedback("a", "positive"))
    unknown = run(store.record_feedback("nope", "positive"))

    assert (first.outcome, first.predicted_label, first.feedback_label) == (
        FeedbackOutcome.RECORDED,
        "positive",
        "negative",
    )
    assert same.outcome is FeedbackOutcome.UNCHANGED
    assert (other.outcome, other.feedback_label) == (FeedbackOutcome.CONFLICT, "negative")
    assert unknown is None


def test_a_database_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "reviews.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version=7")

    with pytest.raises(StoreError, match="schema version 7 is newer than this service's 2"):
        open_store(str(path))


def test_an_unusable_location_is_one_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")

    with pytest.raises(StoreError, match=r"cannot open the database .*a-file/reviews\.db"):
        open_store(str(tmp_path / "a-file" / "reviews.db"))


def test_two_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path):
    path = str(tmp_path / "reviews.db")
    start = threading.Barrier(4)
    opened, failed = [], []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(open_store(path))
        except StoreError as error:
            failed.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(opened), failed) == (4, [])
    for store in opened:
        store.close()


def test_each_write_returns_its_visitors_counts_in_this_experiment_and_arm(tmp_path):
    store = open_store(str(tmp_path / "reviews.db"))
    ana, bo = "a" * 22, "b" * 22

    counts = [
        run(store.add(new_review("1", visitor_id=ana))),
        run(store.add(new_review("2", visitor_id=ana, label="negative"))),
        run(store.record_feedback("2", "positive")).visitor,
        run(store.record_feedback("1", "positive")).visitor,
        run(store.add(new_review("3", visitor_id=bo))),
        # The same id in another experiment, or on the other arm, is another unit
        run(store.add(new_review("4", visitor_id=ana, experiment_id="model-version"))),
        run(store.add(new_review("5", visitor_id=ana, app_version="canary"))),
        # No visitor id: the review is a visitor of its own
        run(store.add(new_review("6"))),
        run(store.record_feedback("6", "negative")).visitor,
    ]

    assert counts == [
        VisitorCounts(1, 0, 0), VisitorCounts(2, 0, 0), VisitorCounts(2, 1, 1), VisitorCounts(2, 2, 1),
        VisitorCounts(1, 0, 0), VisitorCounts(1, 0, 0), VisitorCounts(1, 0, 0),
        VisitorCounts(1, 0, 0), VisitorCounts(1, 1, 1),
    ]  # fmt: skip
    # Feedback again, or another label, counts nothing
    assert run(store.record_feedback("2", "positive")).visitor is None
    assert run(store.record_feedback("2", "negative")).visitor is None


WRITES = 5000


def test_two_writers_at_once_count_every_visitor_exactly(tmp_path):
    """Two stores on one file, as two replicas are, each writing reviews and feedback of the same few visitors as
    fast as it can: the sums of the increments each derived from its writes' counts are those of the rows."""
    path = str(tmp_path / "reviews.db")
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

    def writer(seed: int) -> None:
        try:
            store = open_store(path)
            try:
                start.wait(timeout=30)
                totals.append(asyncio.run(write(store, random.Random(seed), f"writer{seed}")))
            finally:
                store.close()
        except Exception as error:  # shown by the assertion below, not lost in the thread
            failures.append(error)
            start.abort()  # the other writer stops waiting

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    counted = totals[0] + totals[1]
    expected = sums_in_store(path)
    assert expected["reviews"] == len(written)
    assert {name: counted[name] for name in expected} == expected


def test_the_first_feedback_wins_when_two_writers_race_on_one_review(tmp_path):
    # Given one database, two processes' stores on it (two connections), and reviews without feedback
    path = str(tmp_path / "reviews.db")
    first_writer, second_writer = open_store(path), open_store(path)
    ids = [f"r{index}" for index in range(200)]
    for review_id in ids:
        run(first_writer.add(new_review(review_id)))

    # When, for each review, both give their feedback at the same moment: different labels on the even ones,
    # the same label on the odd ones
    def race(review_id: str, labels: tuple[Label, Label]) -> list:
        start = threading.Barrier(2)

        def give(store, label: Label):
            start.wait()
            return run(store.record_feedback(review_id, label))

        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(give, (first_writer, second_writer), labels))

    different, same = ("negative", "positive"), ("negative", "negative")
    results = {review_id: race(review_id, different if index % 2 == 0 else same) for index, review_id in enumerate(ids)}
    first_writer.close()
    second_writer.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        stored = dict(db.execute("SELECT id, feedback_label FROM reviews").fetchall())

    # Then exactly one of the two recorded it, the other was told what was recorded, and that is what is stored
    for index, (review_id, answers) in enumerate(results.items()):
        outcomes = sorted(answer.outcome.value for answer in answers)
        expected = ["conflict", "recorded"] if index % 2 == 0 else ["recorded", "unchanged"]
        assert outcomes == expected, (review_id, answers)
        winner = next(answer for answer in answers if answer.outcome is FeedbackOutcome.RECORDED)
        assert {answer.feedback_label for answer in answers} == {winner.feedback_label} == {stored[review_id]}
