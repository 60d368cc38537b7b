"""The reviews in PostgreSQL: one database per arm, shared by all of the arm's replicas.

asyncpg, with a pool of connections per process: it spent about 10-15% less of this process's CPU per insert
than psycopg 3 with psycopg_pool, the same statement on the same pool (docs/performance.md, `python -m
bench.drivers`). A write is one transaction: the review (or its feedback) and its visitor's counts, committed
together, durable once it returns (the server's synchronous commit), or rolled back together.

"The first feedback wins" is one UPDATE whose WHERE holds only while no feedback is recorded, so of two replicas
recording feedback at once, one updates and the other finds the first. The visitor's counts are read and
written in one statement too (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, `UPDATE ... RETURNING`), in the
transaction of the write they count. Under READ COMMITTED, PostgreSQL's default, such a statement locks the
visitor's row until its transaction ends; a concurrent writer of the same visitor waits for that lock, then
updates the row as the first left it: the writers of one visitor are serialized, and the counts each write
returns are the ones it made, never ones another writer is changing. Each transaction locks one review's row,
then one visitor's, always in that order, so two writes cannot deadlock.

Every call is bounded: the wait for a free connection of the pool by `timeout_seconds`, opening one by
`connect_timeout_seconds`, each statement by the server's `statement_timeout` (the same `timeout_seconds`, so
the server cancels it and rolls its transaction back), and each answer by the client a second later, should
the server itself not answer. Each failure is a StoreError saying what was not done, and whether anything was
saved, a 503 (routes.py): never a hang. A lost connection is replaced by the pool at the next call, so a
restarted server is used again without a restart.

The schema is brought up to date at start (migrations.py), in one transaction under an advisory lock of the
database, so that replicas starting together cannot race: one migrates, the others wait and find it done.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app_service.migrations import MIGRATIONS, SCHEMA_VERSION
from app_service.store import (
    Feedback,
    FeedbackOutcome,
    Label,
    LabelledReview,
    NewReview,
    StoreError,
    StoreLimits,
    VisitorCounts,
)
from app_service.store import newer_schema as _newer_schema

# pg_advisory_xact_lock's key for migrations: any constant, the same in every release (a database's own).
MIGRATION_LOCK = 0x5E471_C4A4  # "sentiment canary"
# The client's own deadline for an answer, past the server's statement_timeout.
CLIENT_DEADLINE_SLACK_SECONDS = 1.0
# What a failed connection attempt raises: refused, unreachable, unknown host, timed out, TLS refused; and what a
# connection lost under a transaction may raise when the pool resets it on release (InternalClientError: "another
# operation is in progress"), after which the pool drops it.
_CONNECT_ERRORS = (OSError, asyncio.TimeoutError, socket.gaierror, asyncpg.InterfaceError, asyncpg.InternalClientError)


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresReviewStore:
    def __init__(self, pool: asyncpg.Pool, limits: StoreLimits) -> None:
        self._pool = pool
        self._timeout = limits.timeout_seconds
        self._size = limits.pool_size

    @classmethod
    async def open(cls, url: str, limits: StoreLimits) -> "PostgresReviewStore":
        """Connect (one connection first, so that a wrong setting fails fast, in one line), then migrate."""
        where = redacted(url)
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=limits.pool_size,
                timeout=limits.connect_timeout_seconds,
                command_timeout=limits.timeout_seconds + CLIENT_DEADLINE_SLACK_SECONDS,
                server_settings={
                    "statement_timeout": str(int(limits.timeout_seconds * 1000)),
                    "application_name": "app-service",
                },
            )
        except asyncpg.PostgresError as error:  # the server said no: password, database, role
            raise StoreError(f"cannot open the database {where}: {error}") from error
        except _CONNECT_ERRORS as error:
            raise StoreError(f"cannot open the database {where}: {_describe(error)}") from error
        store = cls(pool, limits)
        try:
            await store._migrate()
        except (asyncpg.PostgresError, *_CONNECT_ERRORS) as error:
            await pool.close()
            raise StoreError(f"cannot migrate the database {where}: {_describe(error)}") from error
        except StoreError:
            await pool.close()
            raise
        return store

    async def _migrate(self) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, summary TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            version = await connection.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
            if version > SCHEMA_VERSION:
                raise StoreError(_newer_schema(version))
            for migration in MIGRATIONS:
                if migration.version > version:
                    for statement in migration.postgresql:
                        await connection.execute(statement)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, summary) VALUES ($1, $2)",
                        migration.version,
                        migration.summary,
                    )

    @asynccontextmanager
    async def _connection(self, what: str, undone: str = "") -> AsyncIterator[asyncpg.Connection]:
        """A connection of the pool; every failure a StoreError: `what` could not be done, and why. A statement the
        server refused or cancelled was rolled back, and so was one never sent (`undone` says so); only a connection
        lost while a statement ran leaves its outcome unknown, which the message says instead."""
        acquired = False  # once a connection is held, a statement may have reached the server
        try:
            async with self._pool.acquire(timeout=self._timeout) as connection:
                acquired = True
                yield connection
        except (TimeoutError, asyncpg.QueryCanceledError) as error:
            known = not acquired or isinstance(error, asyncpg.QueryCanceledError)
            reason = f"the database did not answer within {self._timeout:g}s"
            raise StoreError(_message(what, reason, undone if known else _unknown(undone))) from error
        except asyncpg.PostgresError as error:
            raise StoreError(_message(what, _describe(error), undone)) from error
        except _CONNECT_ERRORS as error:
            raise StoreError(_message(what, _describe(error), _unknown(undone) if acquired else undone)) from error

    async def add(self, review: NewReview) -> VisitorCounts:
        async with (
            self._connection("could not store the review", "nothing was saved") as connection,
            connection.transaction(),
        ):
            await connection.execute(
                "INSERT INTO reviews (id, review, predicted_label, confidence, model_version,"
                " model_service_version, app_version, visitor_id, experiment_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                review.id, review.review, review.predicted_label, review.confidence, review.model_version,
                review.model_service_version, review.app_version, review.visitor_id, review.experiment_id,
            )  # fmt: skip
            if review.visitor_id is None:
                return VisitorCounts(reviews=1, feedback=0, corrections=0)
            # The visitor's counts as this transaction leaves them: read and written in one statement, which
            # holds the visitor's row until the commit.
            counts = await connection.fetchrow(
                "INSERT INTO visitors (experiment_id, app_version, visitor_id, reviews, feedback, corrections)"
                " VALUES ($1, $2, $3, 1, 0, 0) ON CONFLICT (experiment_id, app_version, visitor_id)"
                " DO UPDATE SET reviews = visitors.reviews + 1 RETURNING reviews, feedback, corrections",
                review.experiment_id,
                review.app_version,
                review.visitor_id,
            )
        return VisitorCounts(*counts)

    async def record_feedback(self, review_id: str, label: Label) -> Feedback | None:
        async with (
            self._connection("could not store the feedback", "nothing was saved") as connection,
            connection.transaction(),
        ):
            # One statement decides "first feedback wins", whichever replica writes: another one's UPDATE of
            # the review waits for this transaction, then finds the feedback recorded.
            recorded = await connection.fetchrow(
                "UPDATE reviews SET feedback_label = $1, feedback_at = now()"
                " WHERE id = $2 AND feedback_label IS NULL"
                " RETURNING predicted_label, visitor_id, experiment_id, app_version",
                label,
                review_id,
            )
            if recorded is not None:
                predicted = recorded["predicted_label"]
                visitor = await _count_feedback(connection, recorded, corrected=predicted != label)
                return Feedback(FeedbackOutcome.RECORDED, predicted, label, visitor)
            # A statement of its own, with a snapshot of its own: it sees the feedback that won.
            row = await connection.fetchrow(
                "SELECT predicted_label, feedback_label FROM reviews WHERE id = $1", review_id
            )
        if row is None:
            return None
        outcome = FeedbackOutcome.UNCHANGED if row["feedback_label"] == label else FeedbackOutcome.CONFLICT
        return Feedback(outcome, predicted_label=row["predicted_label"], feedback_label=row["feedback_label"])

    async def labelled_reviews(self) -> list[LabelledReview]:
        async with self._connection("could not read the reviews") as connection:
            rows = await connection.fetch(
                "SELECT review, feedback_label FROM reviews WHERE feedback_label IS NOT NULL ORDER BY position"
            )
        return [LabelledReview(row["review"], row["feedback_label"]) for row in rows]

    async def count_awaiting_feedback(self) -> int:
        async with self._connection("could not count the reviews") as connection:
            return await connection.fetchval("SELECT count(*) FROM reviews WHERE feedback_label IS NULL")

    async def check(self) -> None:
        async with self._connection("the database does not answer") as connection:
            await connection.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()


async def _count_feedback(connection: asyncpg.Connection, review: asyncpg.Record, corrected: bool) -> VisitorCounts:
    """The review's visitor's counts with one more feedback, in the transaction that records it."""
    if review["visitor_id"] is None:
        return VisitorCounts(reviews=1, feedback=1, corrections=int(corrected))
    counts = await connection.fetchrow(
        "UPDATE visitors SET feedback = feedback + 1, corrections = corrections + $1"
        " WHERE experiment_id = $2 AND app_version = $3 AND visitor_id = $4 RETURNING reviews, feedback, corrections",
        int(corrected),
        review["experiment_id"],
        review["app_version"],
        review["visitor_id"],
    )
    if counts is None:  # a review and its visitor's row are written in one transaction: never one without the other
        raise StoreError("could not store the feedback: the review's visitor has no counts; nothing was saved")
    return VisitorCounts(*counts)


def _unknown(undone: str) -> str:
    """For a write whose connection was lost while it ran: the server may have committed it or not."""
    return "the connection was lost while the database wrote it: it may or may not have been saved" if undone else ""


def _message(what: str, reason: str, outcome: str) -> str:
    return f"{what}: {reason}" + (f"; {outcome}" if outcome else "")


def _describe(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "no answer in time"
    return str(error) or type(error).__name__
