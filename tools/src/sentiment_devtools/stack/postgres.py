"""A PostgreSQL server of this machine's own: for `make run DB=postgres`, the tests and the benchmark.

Debian's binaries (the `postgresql` package), on 127.0.0.1, in a folder of its own: the data, a socket folder
and the passwords, made once. `initdb` and the server refuse to run as root, and CI runs as root: then both run
as the `postgres` user, which owns the folder. The server is one supervised process (`postgres` in the
foreground, stopped by its fast shutdown), so a test can stop, crash or restart it like any other.

As the cluster's operator does (k8s/components/postgres/), the server holds one database per arm,
`reviews_<arm>`, both owned by the role `app_service`, whose password only this folder knows.
"""

import os
import pwd
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sentiment_devtools.stack.supervisor import Process

# The newest PostgreSQL of Debian's packages on this machine; PG_BIN to choose another.
_DEBIAN_BINARIES = Path("/usr/lib/postgresql")
ROLE = "app_service"
SUPERUSER = "postgres"


def database_name(arm: str) -> str:
    return f"reviews_{arm}"


def binaries() -> Path:
    if "PG_BIN" in os.environ:
        return Path(os.environ["PG_BIN"])
    versions = sorted(_DEBIAN_BINARIES.glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not versions:
        raise RuntimeError(
            "no PostgreSQL binaries in /usr/lib/postgresql: apt-get install postgresql (make system-deps)"
        )
    return versions[-1].parent


def _server_user() -> str | None:
    """Who runs the server: the postgres user when we are root (initdb refuses root), else ourselves."""
    return SUPERUSER if os.geteuid() == 0 else None


@dataclass(frozen=True)
class LocalPostgres:
    folder: Path
    port: int
    host: str = "127.0.0.1"
    name: str = "postgres"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    def prepare(self) -> None:
        """Create the folder and the database cluster, once; later calls find them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        _password(self.folder / "superuser-password")
        _password(self.folder / f"{ROLE}-password")
        if (self.data_dir / "PG_VERSION").exists():
            return
        user = _server_user()
        if user is not None:
            _reachable_by_others(self.folder)
        self.socket_dir.mkdir(exist_ok=True)
        password_file = self.folder / "initdb-password"
        password_file.write_text(self.superuser_password + "\n")
        if user is not None:
            owner = pwd.getpwnam(user)
            for path in (self.folder, self.socket_dir, password_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        try:
            result = subprocess.run(
                [str(binaries() / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--pwfile", str(password_file),
                 "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                capture_output=True, text=True, timeout=120, check=False, user=user, group=user,
                extra_groups=[] if user else None,
            )  # fmt: skip
        finally:
            password_file.unlink()
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {result.stderr.strip()}")

    @property
    def superuser_password(self) -> str:
        return (self.folder / "superuser-password").read_text().strip()

    @property
    def role_password(self) -> str:
        return (self.folder / f"{ROLE}-password").read_text().strip()

    def process(self) -> Process:
        """The server in the foreground, on 127.0.0.1 only; ready once it accepts connections."""
        return Process(
            self.name,
            [str(binaries() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
             "-c", f"listen_addresses={self.host}", "-c", f"unix_socket_directories={self.socket_dir}",
             "-c", "max_connections=200", "-c", "log_min_messages=warning"],
            ready_command=[str(binaries() / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)],
            stop_signal=signal.SIGINT,
            user=_server_user(),
        )  # fmt: skip

    def url(self, database: str, user: str = ROLE) -> str:
        password = self.superuser_password if user == SUPERUSER else self.role_password
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{database}"

    def create_databases(self, arms: tuple[str, ...]) -> None:
        """The role and one database per arm, as the operator makes them; what exists already is kept."""
        self.sql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN"
            f" CREATE ROLE {ROLE} LOGIN; END IF; END $$;"
            f" ALTER ROLE {ROLE} PASSWORD '{self.role_password}';"
        )
        for arm in arms:
            database = database_name(arm)
            exists = self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'")  # noqa: S608 (ours)
            if not exists:
                self.sql(f"CREATE DATABASE {database} OWNER {ROLE}")

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run SQL as the superuser with psql; its output, unaligned and without headers."""
        result = subprocess.run(
            [str(binaries() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement,
             self.url(database, SUPERUSER)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()


def _reachable_by_others(folder: Path) -> None:
    """The postgres user must reach the folder through every folder above it."""
    for parent in folder.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise RuntimeError(
                f"PostgreSQL runs as the postgres user here (initdb refuses root), who cannot reach {folder}: "
                f"{parent} is not searchable by others (chmod o+x {parent}), or start it as another user than root"
            )


def _password(path: Path) -> None:
    """A random password kept in `path` (never in git), made once; hex, so it needs no quoting in a URL."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(24) + "\n")
