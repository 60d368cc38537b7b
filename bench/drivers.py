"""Which PostgreSQL driver the app-service uses: client CPU per insert, psycopg 3 + psycopg_pool against asyncpg.

The same INSERT of a review (the store's own statement and columns), the same pool size, the same number of
concurrent tasks, on uvloop as the service runs; the runs alternate between the drivers, so that whatever else
the machine does falls on both alike. The figure is this process's CPU time (user + system) per insert: what
the driver costs the service, the server's work apart. A local server of its own (sentiment_devtools.stack.postgres).

    python -m bench.drivers [--inserts 4000] [--runs 5]
"""

import argparse
import asyncio
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import psycopg_pool
import uvloop
from sentiment_devtools.stack.postgres import LocalPostgres
from sentiment_devtools.stack.supervisor import Supervisor

from bench.proc import free_port

POOL_SIZE = 4
CONCURRENCY = 8
# The statement of app_service/postgres_store.py, placeholders in each driver's own style.
COLUMNS = "id, review, predicted_label, confidence, model_version, model_service_version, app_version, created_at"
TABLE = """CREATE TABLE reviews (
    id TEXT PRIMARY KEY, review TEXT NOT NULL, predicted_label TEXT NOT NULL, confidence DOUBLE PRECISION NOT NULL,
    model_version TEXT NOT NULL, model_service_version TEXT NOT NULL, app_version TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, feedback_label TEXT, feedback_at TIMESTAMPTZ)"""


def _row() -> tuple:
    return (secrets.token_urlsafe(16), "The soup was lovely and the staff were kind.", "positive", 0.93, "v1.0.0",
            "stable", "stable")  # fmt: skip


async def _psycopg(url: str, inserts: int) -> float:
    statement = f"INSERT INTO reviews ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, now())"  # noqa: S608 (constants)
    async with psycopg_pool.AsyncConnectionPool(
        url, min_size=POOL_SIZE, max_size=POOL_SIZE, kwargs={"autocommit": True}, open=False
    ) as pool:
        await pool.wait()

        async def insert() -> None:
            async with pool.connection() as connection:
                await connection.execute(statement, _row())

        return await _timed(insert, inserts)


async def _asyncpg(url: str, inserts: int) -> float:
    statement = f"INSERT INTO reviews ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, now())"  # noqa: S608 (constants)
    async with asyncpg.create_pool(url, min_size=POOL_SIZE, max_size=POOL_SIZE) as pool:

        async def insert() -> None:
            await pool.execute(statement, *_row())

        return await _timed(insert, inserts)


async def _timed(insert, inserts: int) -> float:
    """CPU seconds of this process per insert, CONCURRENCY inserts in flight, after a warm-up (prepared statements)."""
    for _ in range(50):
        await insert()
    queue = iter(range(inserts))

    async def worker() -> None:
        for _ in queue:
            await insert()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return (time.process_time() - started) / inserts


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drivers", description=__doc__.splitlines()[0])
    parser.add_argument("--inserts", type=int, default=4000, help="inserts per run (default: 4000)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each driver, alternated (default: 5)")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-drivers-"))
    folder.chmod(0o755)  # the server may run as the postgres user
    server = LocalPostgres(folder / "postgres", free_port())
    server.prepare()
    supervisor = Supervisor(folder / "logs")
    supervisor.start(server.process())
    try:
        supervisor.wait_ready(60)
        server.create_databases(("bench",))
        url = server.url("reviews_bench")
        server.sql(f"{TABLE}; ALTER TABLE reviews OWNER TO app_service", "reviews_bench")
        figures: dict[str, list[float]] = {"psycopg": [], "asyncpg": []}
        for run in range(arguments.runs):
            for name, measure in (("psycopg", _psycopg), ("asyncpg", _asyncpg))[:: 1 if run % 2 == 0 else -1]:
                figures[name].append(uvloop.run(measure(url, arguments.inserts)))
                server.sql("TRUNCATE reviews", "reviews_bench")
    finally:
        supervisor.stop_all()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"client CPU per insert, pool {POOL_SIZE}, {CONCURRENCY} in flight, {arguments.inserts} inserts x "
          f"{arguments.runs} runs (median; each run):")  # fmt: skip
    for name, values in figures.items():
        runs = ", ".join(f"{value * 1e6:.0f}" for value in values)
        print(f"  {name:8} {statistics.median(values) * 1e6:6.0f} us  ({runs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
