"""What only the PostgreSQL store does: a wrong setting stops start-up in one clear line, without the password;
a slow database or an exhausted pool is a clear StoreError (a 503) within the timeout, never a hang."""

import asyncio
import time

import asyncpg
import pytest
from app_service.migrations import SCHEMA_VERSION
from app_service.store import NewReview, StoreError, StoreLimits, open_store
from support.services import free_port, serve_refused
from support.waiting import DEADLINE_SECONDS

TIMEOUT = 0.5
QUICK = StoreLimits(pool_size=1, connect_timeout_seconds=TIMEOUT, timeout_seconds=TIMEOUT)


def review(review_id: str) -> NewReview:
    return NewReview(review_id, "Lovely soup.", "positive", 0.9, "v1.0.0", "stable", "stable")


def with_password(url: str, password: str) -> str:
    user, rest = url.removeprefix("postgresql://").split(":", 1)
    return f"postgresql://{user}:{password}@{rest.split('@', 1)[1]}"


def test_a_wrong_password_an_unknown_database_or_an_unreachable_host_stops_start_up_in_one_line(postgres_url):
    secret = "wrong-test-password-0123"
    urls = {
        "password authentication failed": with_password(postgres_url, secret),
        'database "nowhere" does not exist': postgres_url.rsplit("/", 1)[0] + "/nowhere",
        "Connect call failed": f"postgresql://app:{secret}@127.0.0.1:{free_port()}/reviews",
    }
    for reason, url in urls.items():
        result = serve_refused("app_service", {"DATABASE_URL": url, "DATABASE_CONNECT_TIMEOUT_SECONDS": "2"})

        assert result.returncode == 1, result
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("app-service: cannot open the database postgresql://"), result.stderr
        assert reason in result.stderr, result.stderr
        assert secret not in result.stderr, result.stderr
        assert ":***@" in result.stderr, result.stderr


@pytest.fixture
def locked_reviews(postgres_url):
    """A transaction of another client holding the reviews table: every write to it waits."""

    async def lock(connection: asyncpg.Connection) -> None:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE")

    return lock


async def waiting_for_a_lock(connection: asyncpg.Connection) -> None:
    """Until a statement waits for a lock: the store's one connection is taken, and held."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await connection.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
        assert time.monotonic() < deadline, "no statement ever waited for the table's lock"
        await asyncio.sleep(0.01)


def test_a_slow_database_gives_a_store_error_within_the_timeout_and_saves_nothing(postgres_url, locked_reviews):
    async def scenario():
        store = await open_store(postgres_url, QUICK)
        other = await asyncpg.connect(postgres_url)
        try:
            await locked_reviews(other)
            started = time.monotonic()
            with pytest.raises(StoreError) as refused:
                await store.add(review("slow"))
            took = time.monotonic() - started
            await other.close()
            return refused.value, took, await store.count_awaiting_feedback()
        finally:
            await store.close()

    error, took, stored = asyncio.run(scenario())

    assert (
        str(error) == f"could not store the review: the database did not answer within {TIMEOUT:g}s; nothing was saved"
    )
    assert took < TIMEOUT + 1.0, took  # the server's statement_timeout, then its answer
    assert stored == 0


def test_an_exhausted_pool_gives_a_store_error_within_the_timeout(postgres_url, locked_reviews):
    async def scenario():
        store = await open_store(postgres_url, QUICK)  # one connection
        other = await asyncpg.connect(postgres_url)
        try:
            await locked_reviews(other)
            holder = asyncio.create_task(store.add(review("holds-the-connection")))
            await waiting_for_a_lock(other)
            started = time.monotonic()
            with pytest.raises(StoreError) as refused:
                await store.add(review("waits-for-one"))
            took = time.monotonic() - started
            with pytest.raises(StoreError):
                await holder
            return refused.value, took
        finally:
            await other.close()
            await store.close()

    error, took = asyncio.run(scenario())

    assert "did not answer within 0.5s; nothing was saved" in str(error)
    assert took < TIMEOUT + 1.0, took


def test_a_service_that_finds_a_newer_schema_refuses_to_start_naming_both_versions(postgres_url):
    async def written_by_a_newer_release():
        await (await open_store(postgres_url)).close()
        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute(
                "INSERT INTO schema_migrations (version, summary) VALUES ($1, 'a newer release')", SCHEMA_VERSION + 1
            )
        finally:
            await connection.close()

    asyncio.run(written_by_a_newer_release())

    result = serve_refused("app_service", {"DATABASE_URL": postgres_url})

    assert result.returncode == 1, result
    assert result.stderr == (
        f"app-service: the database's schema is at version {SCHEMA_VERSION + 1}, newer than this service's "
        f"{SCHEMA_VERSION}: it was written by a newer release; run that release, or a newer one\n"
    )
