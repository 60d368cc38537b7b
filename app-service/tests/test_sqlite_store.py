"""What only the SQLite store does: WAL mode, and one clear error for a folder it cannot use."""

import asyncio
import sqlite3

import pytest
from app_service.migrations import SCHEMA_VERSION
from app_service.store import StoreError, open_store


def test_the_schema_is_created_at_first_start_in_wal_mode(tmp_path):
    path = tmp_path / "nested" / "reviews.db"

    asyncio.run(asyncio.run(open_store(f"sqlite:///{path}")).close())

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT count(*) FROM reviews").fetchone() == (0,)


def test_an_unusable_location_is_one_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")

    with pytest.raises(StoreError, match=r"cannot open the database .*a-file/reviews\.db"):
        asyncio.run(open_store(f"sqlite:///{tmp_path / 'a-file' / 'reviews.db'}"))
