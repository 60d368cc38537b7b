"""What only the SQLite store does: WAL mode, one clear error for a folder it cannot use, and processes opening a
new file at once (SQLite answers "locked" at once while another switches it to WAL)."""

import asyncio
import sqlite3
import threading
from contextlib import closing

import pytest
from app_service.migrations import SCHEMA_VERSION
from app_service.store import StoreError, open_store


def test_the_schema_is_created_at_first_start_in_wal_mode(tmp_path):
    path = tmp_path / "nested" / "reviews.db"

    asyncio.run(asyncio.run(open_store(f"sqlite:///{path}")).close())

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT count(*) FROM reviews").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM visitors").fetchone() == (0,)


def test_an_unusable_location_is_one_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")

    with pytest.raises(StoreError, match=r"cannot open the database .*a-file/reviews\.db"):
        asyncio.run(open_store(f"sqlite:///{tmp_path / 'a-file' / 'reviews.db'}"))


def test_two_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    start = threading.Barrier(4)
    opened, failed = [], []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(asyncio.run(open_store(url)))
        except StoreError as error:
            failed.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(opened), failed) == (4, [])
    for store in opened:
        asyncio.run(store.close())
