"""A real PostgreSQL server for the tests: Debian's binaries, in a temporary folder, on 127.0.0.1 and a free port.

One server per test session (`postgres_server`), run by the stack's own supervisor and code
(sentiment_devtools.stack.postgres), as the `postgres` user when the tests run as root (initdb refuses root).
pytest-postgresql's client fixture then gives each test that asks for `postgresql` a database of its own,
created empty and dropped afterwards; `postgres_url` is that database's URL, for a store to open.
Import the fixtures into a conftest: `from support.postgres import postgres_server, postgresql, postgres_url`.
"""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.executors import NoopExecutor
from sentiment_devtools.stack.postgres import SUPERUSER, LocalPostgres
from sentiment_devtools.stack.supervisor import Supervisor

from support.services import free_port
from support.waiting import STARTUP_SECONDS


class TestServer(NoopExecutor):
    """pytest-postgresql's description of a server it does not run (host, port, superuser), plus ours: the
    LocalPostgres and its supervisor, to stop, crash or restart it."""

    __test__ = False

    def __init__(self, server: LocalPostgres, supervisor: Supervisor) -> None:
        super().__init__(server.host, server.port, SUPERUSER, "", "tests", server.superuser_password)
        self.server = server
        self.supervisor = supervisor

    @property
    def template_dbname(self) -> None:
        """Each test's database is made empty, from no template of ours."""
        return None

    def url(self, database: str) -> str:
        return self.server.url(database, SUPERUSER)


@contextmanager
def reachable_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder the postgres user can reach (pytest's own are root's alone), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TestServer]:
    with reachable_folder("sentiment-postgres-") as folder:
        yield from _served(folder)


def _served(folder: Path) -> Iterator[TestServer]:
    server = LocalPostgres(folder / "server", free_port())
    server.prepare()
    supervisor = Supervisor(folder / "logs")
    supervisor.start(server.process())
    try:
        supervisor.wait_ready(STARTUP_SECONDS)
        yield TestServer(server, supervisor)
    finally:
        supervisor.stop_all()


postgresql = factories.postgresql("postgres_server")


@pytest.fixture
def postgres_url(postgresql: psycopg.Connection, postgres_server: TestServer) -> str:
    """The URL of this test's own, empty database."""
    return postgres_server.url(postgresql.info.dbname)
