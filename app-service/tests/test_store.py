"""The SQLite store: created at start, durable across restarts, first feedback wins."""

import asyncio
import contextlib
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from app_service.store import FeedbackOutcome, Label, LabelledReview, NewReview, StoreError, open_store


def new_review(review_id: str, text: str = "Lovely soup.", label: Label = "positive") -> NewReview:
    return NewReview(review_id, text, label, 0.9, "v1.0.0", "stable", "stable")


def run(coroutine):
    return asyncio.run(coroutine)


def test_the_schema_is_created_at_first_start_in_wal_mode(tmp_path):
    path = tmp_path / "nested" / "reviews.db"

    open_store(str(path)).close()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM reviews").fetchone() == (0,)


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
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=7")

    with pytest.raises(StoreError, match="schema version 7 is newer than this service's 1"):
        open_store(str(path))


def test_an_unusable_location_is_one_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")

    with pytest.raises(StoreError, match=r"cannot open the database .*a-file/reviews\.db"):
        open_store(str(tmp_path / "a-file" / "reviews.db"))


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
