"""The SQLite store: created at start, durable across restarts, first feedback wins."""

import asyncio
import sqlite3

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
