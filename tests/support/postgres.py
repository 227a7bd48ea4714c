"""Throwaway PostgreSQL clusters for tests: `initdb`/`pg_ctl` in a temp dir, on loopback.

Each cluster runs as the non-root user `postgres` (PostgreSQL refuses to run as root;
`apt-get install postgresql` creates the user), listens on a free port on 127.0.0.1
only, trusts local TCP connections, and has `wal_level=logical` so two clusters can be
joined by logical replication. Durability is switched off: the data is thrown away.

Clusters start on first use and all stop at the end of the test session:

    def test_x(postgres: Cluster) -> None:           # the shared cluster "main"
        db = postgres.new_database()                 # each test its own database
    def test_y(postgres_clusters: Clusters) -> None: # postgres_clusters.get("replica")

Register the fixtures with `pytest_plugins = ("support.postgres",)` (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from support.components import in_ci, require_postgres_bin
from support.network import free_port

USER = "postgres"  # both the OS user the server runs as and its superuser role
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it
# wal_retrieve_retry_interval also throttles how soon a re-enabled subscription's apply
# worker starts (5 s by default)
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
wal_level = logical
max_connections = 50
fsync = off
full_page_writes = off
wal_retrieve_retry_interval = '50ms'
"""


class Cluster:
    """One running cluster; `dsn()` and `conninfo()` name a database in it."""

    def __init__(self, bin_dir: Path, workdir: Path) -> None:
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.host = "127.0.0.1"
        self.port = 0
        self._names = itertools.count(1)

    def dsn(self, database: str = "postgres", *, password: str | None = None) -> str:
        """A SQLAlchemy URL (asyncpg). Trust auth ignores any password given."""
        user = f"{USER}:{password}" if password else USER
        return f"postgresql+asyncpg://{user}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """A libpq connection string, as `CREATE SUBSCRIPTION ... CONNECTION` wants."""
        return f"host={self.host} port={self.port} dbname={database} user={USER}"

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        """A plain asyncpg connection, for setting up and inspecting tests' tables."""
        return await asyncpg.connect(host=self.host, port=self.port, user=USER, database=database)

    def new_database(self, prefix: str = "test") -> str:
        """A fresh, empty database with a unique name."""
        name = f"{prefix}_{next(self._names)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def psql(self, script: str, database: str = "postgres") -> str:
        """Run SQL statements one by one (so CREATE SUBSCRIPTION may be among them)."""
        done = subprocess.run(
            [self._tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", str(self.port), "-U", USER, "-d", database],
            input=script, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"psql failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout.strip()

    def start(self) -> None:
        _run_as_postgres([self._tool("initdb"), "-D", str(self.data_dir), "-U", USER,
                          "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])  # fmt: skip
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("include 'monitor-tests.conf'\n")
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            (self.data_dir / "monitor-tests.conf").write_text(SETTINGS.format(port=self.port))
            if self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log)).returncode == 0:
                return
        raise RuntimeError(f"PostgreSQL did not start; its log:\n{self.log_tail()}")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast", "-w")

    @property
    def log(self) -> Path:
        return self.workdir / "postgres.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run_as_postgres([self._tool("pg_ctl"), "-D", str(self.data_dir), *args],
                                check=False)  # fmt: skip


def _run_as_postgres(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the `postgres` user when we are root (it refuses root)."""
    prefix = ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, *argv], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done


def _owned_workdir() -> Path:
    """A temp dir the server's user can write to."""
    workdir = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(USER)
        os.chown(workdir, account.pw_uid, account.pw_gid)
    return workdir


def require_server_user() -> None:
    """As root, the server needs the `postgres` user; skip (fail under CI) without it."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(USER)
    except KeyError:
        message = "no `postgres` user to run PostgreSQL as: install the Debian package postgresql"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


class Clusters:
    """Clusters by name, each started on first use; `close()` stops them all."""

    def __init__(self) -> None:
        self._running: dict[str, Cluster] = {}

    def get(self, name: str = "main") -> Cluster:
        if name not in self._running:
            self._running[name] = self._started()
        return self._running[name]

    def _started(self) -> Cluster:
        require_server_user()
        bin_dir = Path(require_postgres_bin("initdb")).parent
        cluster = Cluster(bin_dir, _owned_workdir())
        try:
            cluster.start()
        except BaseException:
            shutil.rmtree(cluster.workdir, ignore_errors=True)
            raise
        return cluster

    def close(self) -> None:
        for cluster in self._running.values():
            with contextlib.suppress(Exception):
                cluster.stop()
            shutil.rmtree(cluster.workdir, ignore_errors=True)
        self._running.clear()


@pytest.fixture(scope="session")
def postgres_clusters() -> Iterator[Clusters]:
    """Throwaway clusters by name for the whole session (stopped at its end)."""
    clusters = Clusters()
    try:
        yield clusters
    finally:
        clusters.close()


@pytest.fixture(scope="session")
def postgres(postgres_clusters: Clusters) -> Cluster:
    """The shared cluster; give each test its own database (`postgres.new_database()`)."""
    return postgres_clusters.get("main")
