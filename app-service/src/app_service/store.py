"""Where reviews, predictions and the users' feedback live.

`ReviewStore` is the interface the routes use; `SqliteReviewStore` is the one
implementation. A server database (PostgreSQL, say) plugs in as another class
with the same async methods, chosen in `open_store` by the DATABASE_URL scheme.

SQLite runs in WAL mode with synchronous=NORMAL: a committed write survives a
crash of the process (not necessarily of the machine's power), and one write
takes about 0.1 ms, so the writes run inline on the event loop rather than in a
thread. The store owns its one connection; the event loop is single-threaded,
so no two statements ever interleave.
"""

import datetime
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal, Protocol

Label = Literal["negative", "positive"]

# Bump with a migration step in _migrate when the schema changes.
SCHEMA_VERSION = 1
_SCHEMA = """
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
"""


class StoreError(Exception):
    """The store could not read or write: a 503 (routes.py), its message saying what was not done."""


@dataclass(frozen=True)
class NewReview:
    id: str
    review: str
    predicted_label: Label
    confidence: float
    model_version: str
    model_service_version: str  # the arm (stable|canary) of the model-service that answered
    app_version: str


class FeedbackOutcome(Enum):
    RECORDED = "recorded"  # first feedback for this review
    UNCHANGED = "unchanged"  # the same feedback again: nothing to do
    CONFLICT = "conflict"  # another label was recorded before


@dataclass(frozen=True)
class Feedback:
    outcome: FeedbackOutcome
    predicted_label: Label
    feedback_label: Label  # the label stored: the one given now, or before


@dataclass(frozen=True)
class LabelledReview:
    review: str
    label: Label


class ReviewStore(Protocol):
    async def add(self, review: NewReview) -> None: ...

    async def record_feedback(self, review_id: str, label: Label) -> Feedback | None:
        """The first feedback for a review wins; None when there is no such review."""
        ...

    async def labelled_reviews(self) -> Sequence[LabelledReview]:
        """Reviews with user feedback, oldest first, labelled with the user's label."""
        ...

    async def count_awaiting_feedback(self) -> int: ...

    async def check(self) -> None:
        """Raise StoreError unless the store answers."""
        ...

    def close(self) -> None: ...


def open_store(database_path: str) -> ReviewStore:
    """Open (and create, at first start) the store; raises StoreError with the reason."""
    return SqliteReviewStore(database_path)


def _read_only_hint(path: str) -> str:
    """SQLite says only "unable to open database file" when its folder is on a read-only filesystem."""
    folder = Path(path).parent
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return ""
    return f" (the filesystem of {folder} is read-only)" if read_only else ""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class SqliteReviewStore:
    def __init__(self, path: str) -> None:
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: every statement commits on its own; a failed one leaves nothing behind.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=2000")
            self._migrate()
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"cannot open the database {path}: {error}{_read_only_hint(path)}") from error

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        if version != 0:
            raise StoreError(f"database schema version {version} is newer than this service's {SCHEMA_VERSION}")
        self._db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")

    async def add(self, review: NewReview) -> None:
        try:
            self._db.execute(
                "INSERT INTO reviews (id, review, predicted_label, confidence, model_version, model_service_version,"
                " app_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (review.id, review.review, review.predicted_label, review.confidence, review.model_version,
                 review.model_service_version, review.app_version, _now()),
            )  # fmt: skip
        except sqlite3.Error as error:
            raise StoreError(f"could not store the review: {error}; nothing was saved") from error

    async def record_feedback(self, review_id: str, label: Label) -> Feedback | None:
        try:
            # One statement decides "first feedback wins", whoever else writes.
            changed = self._db.execute(
                "UPDATE reviews SET feedback_label = ?, feedback_at = ? WHERE id = ? AND feedback_label IS NULL",
                (label, _now(), review_id),
            ).rowcount
            row = self._db.execute(
                "SELECT predicted_label, feedback_label FROM reviews WHERE id = ?", (review_id,)
            ).fetchone()
        except sqlite3.Error as error:
            raise StoreError(f"could not store the feedback: {error}") from error
        if row is None:
            return None
        predicted, recorded = row
        if changed:
            outcome = FeedbackOutcome.RECORDED
        elif recorded == label:
            outcome = FeedbackOutcome.UNCHANGED
        else:
            outcome = FeedbackOutcome.CONFLICT
        return Feedback(outcome, predicted_label=predicted, feedback_label=recorded)

    async def labelled_reviews(self) -> list[LabelledReview]:
        try:
            rows = self._db.execute(  # rowid: the order of insertion, exact where timestamps may tie
                "SELECT review, feedback_label FROM reviews WHERE feedback_label IS NOT NULL ORDER BY rowid"
            ).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"could not read the reviews: {error}") from error
        return [LabelledReview(review, label) for review, label in rows]

    async def count_awaiting_feedback(self) -> int:
        try:
            return self._db.execute("SELECT count(*) FROM reviews WHERE feedback_label IS NULL").fetchone()[0]
        except sqlite3.Error as error:
            raise StoreError(f"could not count the reviews: {error}") from error

    async def check(self) -> None:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as error:
            raise StoreError(f"the database does not answer: {error}") from error

    def close(self) -> None:
        self._db.close()
