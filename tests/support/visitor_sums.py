"""The per-visitor sums computed from a store's rows alone, to hold the exported counters to."""

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import psycopg

# Each sum by the report's VisitorSums field, of one visitor's (reviews M, reviews with feedback F, corrections C).
SUMS = {
    "visitors": lambda m, f, c: 1,
    "reviews": lambda m, f, c: m,
    "feedback": lambda m, f, c: f,
    "corrections": lambda m, f, c: c,
    "reviews_squared": lambda m, f, c: m * m,
    "feedback_squared": lambda m, f, c: f * f,
    "corrections_squared": lambda m, f, c: c * c,
    "reviews_feedback": lambda m, f, c: m * f,
    "reviews_corrections": lambda m, f, c: m * c,
    "feedback_corrections": lambda m, f, c: f * c,
}


# The same statement in SQLite and PostgreSQL.
VISITORS_OF_REVIEWS = (
    "SELECT count(*), count(feedback_label),"
    " coalesce(sum(CASE WHEN feedback_label <> predicted_label THEN 1 ELSE 0 END), 0)"
    " FROM reviews GROUP BY experiment_id, app_version, coalesce(visitor_id, 'review ' || id)"
)


def visitors_in_store(database: Path | str) -> list[tuple[int, int, int]]:
    """Each visitor's (M, F, C) from the reviews table, per experiment and arm; a review stored without a
    visitor id is a visitor of its own. `database`: a SQLite file, or a PostgreSQL database's URL."""
    if str(database).startswith("postgresql://"):
        with psycopg.connect(str(database)) as db:
            return [tuple(map(int, row)) for row in db.execute(VISITORS_OF_REVIEWS).fetchall()]
    with closing(sqlite3.connect(database)) as db:
        return db.execute(VISITORS_OF_REVIEWS).fetchall()


def sums_in_store(database: Path | str) -> dict[str, int]:
    totals: Counter = Counter(dict.fromkeys(SUMS, 0))
    for m, f, c in visitors_in_store(database):
        totals.update({name: of(m, f, c) for name, of in SUMS.items()})
    return dict(totals)
