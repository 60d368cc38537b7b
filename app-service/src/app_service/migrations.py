"""The store's schema as a versioned list of steps: a database at version k gets every step after k.

Each step is one entry, with its statements for SQLite; a server database's store adds its
dialect's statements to the same entry, so every store reaches the same schema through the
same versions. SQLite keeps the version a database is at in PRAGMA user_version. A database
at a version past the last step here was written by a newer release, and is refused.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    sqlite: tuple[str, ...]  # run in order, in the transaction that sets the version


MIGRATIONS = (
    Migration(
        1,
        "the reviews: each review, its prediction, the versions that made it, and the user's feedback",
        (
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
    ),
    Migration(
        2,
        "each review's visitor (none when the call named no valid one) and experiment; each visitor's reviews, "
        "feedback and corrections per experiment and arm, the per-visitor sums' source",
        (
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
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
