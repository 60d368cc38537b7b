"""The store's schema as a versioned list of steps: a database at version k gets every step after k.

Each step is one entry with its statements for each store: SQLite's and PostgreSQL's, so that every store
reaches the same schema through the same versions, and a new step is one entry here. The step's statements
run in order, in the one transaction that also records the new version: a step is applied whole or not at all.
SQLite keeps a database's version in `PRAGMA user_version`, PostgreSQL in the table `schema_migrations`. A
database at a version past the last step here was written by a newer release: the store refuses it, naming both.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    sqlite: tuple[str, ...]  # run in order, in the transaction that sets the version
    postgresql: tuple[str, ...]  # the same


# Migration 2: each review's visitor and experiment, and the visitors table, in the same SQL in both dialects.
_VISITORS = (
    "ALTER TABLE reviews ADD COLUMN visitor_id TEXT",
    "ALTER TABLE reviews ADD COLUMN experiment_id TEXT NOT NULL DEFAULT ''",
    """CREATE TABLE visitors (
        experiment_id TEXT NOT NULL,
        app_version   TEXT NOT NULL,
        visitor_id    TEXT NOT NULL,
        reviews       INTEGER NOT NULL CHECK (reviews >= 0),
        feedback      INTEGER NOT NULL CHECK (feedback >= 0 AND feedback <= reviews),
        corrections   INTEGER NOT NULL CHECK (corrections >= 0 AND corrections <= feedback),
        PRIMARY KEY (experiment_id, app_version, visitor_id)
    )""",
)
MIGRATIONS = (
    Migration(
        1,
        "the reviews: each review, its prediction, the versions that made it, and the user's feedback",
        sqlite=(
            """CREATE TABLE reviews (
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
            )""",
        ),
        postgresql=(
            # position: the order of insertion, which the export keeps (SQLite's rowid).
            """CREATE TABLE reviews (
                position              BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
                id                    TEXT PRIMARY KEY,
                review                TEXT NOT NULL,
                predicted_label       TEXT NOT NULL CHECK (predicted_label IN ('negative', 'positive')),
                confidence            DOUBLE PRECISION NOT NULL,
                model_version         TEXT NOT NULL,
                model_service_version TEXT NOT NULL,
                app_version           TEXT NOT NULL,
                created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
                feedback_label        TEXT CHECK (feedback_label IN ('negative', 'positive')),
                feedback_at           TIMESTAMPTZ
            )""",
            # reviews_awaiting_feedback is counted from these, by every replica, while the table grows.
            "CREATE INDEX reviews_awaiting_feedback ON reviews (position) WHERE feedback_label IS NULL",
        ),
    ),
    Migration(
        2,
        "each review's visitor (none when the call named no valid one) and experiment; each visitor's reviews, "
        "feedback and corrections per experiment and arm, the per-visitor sums' source",
        sqlite=_VISITORS,
        postgresql=_VISITORS,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
