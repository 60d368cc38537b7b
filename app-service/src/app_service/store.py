"""Where reviews, predictions and the users' feedback live.

`ReviewStore` is the one interface the routes use. `open_store` picks the
implementation by the DATABASE_URL scheme: `SqliteReviewStore` here, the
embedded default (make run, docker compose, a single replica), or
`PostgresReviewStore` (postgres_store.py: a server, several replicas per arm).
Both reach the same schema through the same versions (migrations.py) and keep
the same promises: a review and its feedback are written durably before the
answer, the first feedback wins, decided in one statement, and each write
returns the visitor's counts it made, counted in the same transaction.

SQLite runs in WAL mode with synchronous=NORMAL: a committed write survives a
crash of the process (not necessarily of the machine's power), and one write
takes about 0.1 ms, so the writes run inline on the event loop rather than in a
thread. The store owns its one connection; the event loop is single-threaded,
so no two statements of one process ever interleave. Another process may write
the same file (a second replica): each write is one transaction begun with
BEGIN IMMEDIATE, which takes the write lock first, so that the counts a write
returns are the ones it made, never ones another writer is changing.

Each review is stored with its visitor and experiment, and each write returns
the visitor's counts after it (VisitorCounts), updated in the same transaction
as the review or feedback it counts: the source of the per-visitor sums
(visitor_sums.py).
"""

import contextlib
import datetime
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal, Protocol

from app_service.migrations import MIGRATIONS, SCHEMA_VERSION

Label = Literal["negative", "positive"]
SQLITE_PREFIX = "sqlite:///"
POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")
# How long a write waits for another process's to finish, at most.
BUSY_TIMEOUT_MS = 2000


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
    visitor_id: str | None = None  # None: the call named no valid visitor id
    experiment_id: str = ""  # the experiment this arm's settings declare; "" when none is


@dataclass(frozen=True)
class VisitorCounts:
    """A visitor's reviews M, reviews with feedback F and corrections C, in one experiment and arm.

    A review stored without a visitor id is a visitor of its own: its counts are the review's alone.
    """

    reviews: int
    feedback: int
    corrections: int


class FeedbackOutcome(Enum):
    RECORDED = "recorded"  # first feedback for this review
    UNCHANGED = "unchanged"  # the same feedback again: nothing to do
    CONFLICT = "conflict"  # another label was recorded before


@dataclass(frozen=True)
class Feedback:
    outcome: FeedbackOutcome
    predicted_label: Label
    feedback_label: Label  # the label stored: the one given now, or before
    visitor: VisitorCounts | None = None  # RECORDED: the review's visitor's counts with this feedback


@dataclass(frozen=True)
class LabelledReview:
    review: str
    label: Label


class ReviewStore(Protocol):
    async def add(self, review: NewReview) -> VisitorCounts:
        """Store the review; the visitor's counts with it, counted in the same transaction."""
        ...

    async def record_feedback(self, review_id: str, label: Label) -> Feedback | None:
        """The first feedback for a review wins, and is counted for the review's visitor in the same transaction;
        None when there is no such review."""
        ...

    async def labelled_reviews(self) -> Sequence[LabelledReview]:
        """Reviews with user feedback, oldest first, labelled with the user's label."""
        ...

    async def count_awaiting_feedback(self) -> int: ...

    async def check(self) -> None:
        """Raise StoreError unless the store answers."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class StoreLimits:
    """How long a store call may take, and how many connections a server database's pool holds."""

    pool_size: int = 10
    connect_timeout_seconds: float = 2.0
    timeout_seconds: float = 2.0


async def open_store(url: str, limits: StoreLimits = StoreLimits()) -> ReviewStore:
    """Open the store DATABASE_URL names and bring its schema up to date; raises StoreError with the reason."""
    if url.startswith(POSTGRESQL_SCHEMES):
        # Imported here: postgres_store builds on this module's types.
        from app_service.postgres_store import PostgresReviewStore

        return await PostgresReviewStore.open(url, limits)
    return SqliteReviewStore(url.removeprefix(SQLITE_PREFIX))


def newer_schema(version: int) -> str:
    return (
        f"the database's schema is at version {version}, newer than this service's {SCHEMA_VERSION}:"
        " it was written by a newer release; run that release, or a newer one"
    )


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
            # Autocommit: a statement outside BEGIN ... COMMIT commits on its own.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._use_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"cannot open the database {path}: {error}{_read_only_hint(path)}") from error

    def _use_wal(self) -> None:
        """WAL mode, which the file keeps once set. While another connection switches a new file to WAL, SQLite
        answers "database is locked" at once, without waiting busy_timeout: so this waits for it here."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def _migrate(self) -> None:
        """Every step of MIGRATIONS past the database's version, in one transaction: all or none. Under the write
        lock, so that of two processes opening a database at once, one migrates and the other finds it done."""
        with self._transaction():
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StoreError(newer_schema(version))
            for migration in MIGRATIONS:
                if migration.version > version:
                    for statement in migration.sqlite:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {migration.version}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction that holds the write lock from its start (another writer waits, up to busy_timeout);
        committed when the block ends, rolled back when it raises."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    async def add(self, review: NewReview) -> VisitorCounts:
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT INTO reviews (id, review, predicted_label, confidence, model_version,"
                    " model_service_version, app_version, created_at, visitor_id, experiment_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (review.id, review.review, review.predicted_label, review.confidence, review.model_version,
                     review.model_service_version, review.app_version, _now(), review.visitor_id,
                     review.experiment_id),
                )  # fmt: skip
                if review.visitor_id is None:
                    return VisitorCounts(reviews=1, feedback=0, corrections=0)
                # The visitor's counts as this transaction leaves them: read and written in one statement.
                [counts] = self._db.execute(
                    "INSERT INTO visitors (experiment_id, app_version, visitor_id, reviews, feedback, corrections)"
                    " VALUES (?, ?, ?, 1, 0, 0) ON CONFLICT (experiment_id, app_version, visitor_id)"
                    " DO UPDATE SET reviews = reviews + 1 RETURNING reviews, feedback, corrections",
                    (review.experiment_id, review.app_version, review.visitor_id),
                ).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"could not store the review: {error}; nothing was saved") from error
        return VisitorCounts(*counts)

    async def record_feedback(self, review_id: str, label: Label) -> Feedback | None:
        try:
            with self._transaction():
                # One statement decides "first feedback wins", whoever else writes.
                recorded = self._db.execute(
                    "UPDATE reviews SET feedback_label = ?, feedback_at = ? WHERE id = ? AND feedback_label IS NULL"
                    " RETURNING predicted_label, visitor_id, experiment_id, app_version",
                    (label, _now(), review_id),
                ).fetchall()
                if recorded:
                    [(predicted, visitor_id, experiment_id, app_version)] = recorded
                    visitor = self._count_feedback(visitor_id, experiment_id, app_version, predicted != label)
                    return Feedback(FeedbackOutcome.RECORDED, predicted, label, visitor)
                row = self._db.execute(
                    "SELECT predicted_label, feedback_label FROM reviews WHERE id = ?", (review_id,)
                ).fetchone()
        except sqlite3.Error as error:
            raise StoreError(f"could not store the feedback: {error}") from error
        if row is None:
            return None
        predicted, stored = row
        outcome = FeedbackOutcome.UNCHANGED if stored == label else FeedbackOutcome.CONFLICT
        return Feedback(outcome, predicted_label=predicted, feedback_label=stored)

    def _count_feedback(
        self, visitor_id: str | None, experiment_id: str, app_version: str, corrected: bool
    ) -> VisitorCounts:
        """The review's visitor's counts with one more feedback, in the transaction that records it."""
        if visitor_id is None:
            return VisitorCounts(reviews=1, feedback=1, corrections=int(corrected))
        counts = self._db.execute(
            "UPDATE visitors SET feedback = feedback + 1, corrections = corrections + ?"
            " WHERE experiment_id = ? AND app_version = ? AND visitor_id = ? RETURNING reviews, feedback, corrections",
            (int(corrected), experiment_id, app_version, visitor_id),
        ).fetchall()
        if not counts:  # a review and its visitor's row are written in one transaction: never one without the other
            raise StoreError("the review's visitor has no counts")
        return VisitorCounts(*counts[0])

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

    async def close(self) -> None:
        self._db.close()
