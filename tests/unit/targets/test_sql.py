"""The SQL adapter on SQLite files (aiosqlite): an Auth database copied into a Backend
database by a small in-test sync, errors, the guard, and values carrying SQL syntax."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.sql_targets import (
    AUTH_QUERIES,
    BACKEND_QUERIES,
    settings,
    sql_config,
    sql_side,
    sql_target,
)
from support.waiting import eventually

from monitor.config import Config, ConfigError
from monitor.config_sides import SqlSide
from monitor.runner import run_probe
from monitor.targets.base import AlreadyExists, NotFound, Target, TargetError, UntaggedRecord
from monitor.targets.sql import SqlAuthSide, SqlBackendSide, query_problems
from monitor.targets.sql_database import database_url

DOMAIN = "consistency-monitor.invalid"
AUTH_SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE,
                    display_name TEXT NOT NULL DEFAULT '', city TEXT NOT NULL DEFAULT '');
"""
BACKEND_SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, display_name TEXT, city TEXT);
CREATE TABLE sessions (user_id INTEGER NOT NULL, token TEXT NOT NULL);
"""
COPY = {  # the sync, one statement per kind of change; a fault skips one
    "creates": "INSERT INTO users SELECT id, email, display_name, city FROM a.users "
    "WHERE id NOT IN (SELECT id FROM users)",
    "updates": "UPDATE users SET (email, display_name, city) = "
    "(SELECT email, display_name, city FROM a.users WHERE a.users.id = users.id) "
    "WHERE id IN (SELECT id FROM a.users)",
    "deletes": "DELETE FROM users WHERE id NOT IN (SELECT id FROM a.users)",
    "cascade": "DELETE FROM sessions WHERE user_id NOT IN (SELECT id FROM users)",
}
SYNC_PERIOD = 0.005
ALICE = ("alice@example.com", "Alice", "Oslo")


@dataclass
class Databases:
    auth: Path
    backend: Path

    def dsn(self, which: str) -> str:
        return f"sqlite+aiosqlite:///{getattr(self, which)}"

    def rows(self, which: str, sql: str = "SELECT * FROM users ORDER BY id") -> list[Any]:
        with contextlib.closing(sqlite3.connect(getattr(self, which))) as conn:
            return conn.execute(sql).fetchall()

    def insert_alice(self) -> str:
        """A real user in both databases, made without the monitor."""
        for which in ("auth", "backend"):
            with contextlib.closing(sqlite3.connect(getattr(self, which))) as conn, conn:
                conn.execute(
                    "INSERT INTO users (id, email, display_name, city) VALUES (7, ?, ?, ?)", ALICE
                )
        return "7"


class Sync:
    """Copies Auth's users into Backend every few milliseconds, minus the skipped kinds."""

    def __init__(self, dbs: Databases) -> None:
        self.skip: set[str] = set()
        self._conn = sqlite3.connect(dbs.backend, isolation_level=None, check_same_thread=False)
        self._conn.execute("ATTACH DATABASE ? AS a", (str(dbs.auth),))

    def copy(self) -> None:
        with self._conn:
            for kind, statement in COPY.items():
                if kind not in self.skip:
                    self._conn.execute(statement)

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.copy)
            await asyncio.sleep(SYNC_PERIOD)


@pytest.fixture
def dbs(tmp_path: Path) -> Iterator[Databases]:
    dbs = Databases(tmp_path / "auth.sqlite", tmp_path / "backend.sqlite")
    for path, schema in ((dbs.auth, AUTH_SCHEMA), (dbs.backend, BACKEND_SCHEMA)):
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.executescript(schema)
    yield dbs


@pytest.fixture
async def sync(dbs: Databases) -> AsyncIterator[Sync]:
    sync = Sync(dbs)
    task = asyncio.create_task(sync.run())
    yield sync
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def config_of(dbs: Databases, **backend: Any) -> Config:
    return sql_config(
        sql_side(dbs.dsn("auth"), AUTH_QUERIES),
        sql_side(dbs.dsn("backend"), BACKEND_QUERIES, **backend),
        deadlines={"sync": 0.5, "give_up": 1.0},
    )


@pytest.fixture
async def target(dbs: Databases) -> AsyncIterator[Target]:
    target = sql_target(config_of(dbs))
    yield target
    await target.close()


async def run(dbs: Databases, target: Target, probe: str) -> Any:
    return await run_probe(target, probe, settings(config_of(dbs), probe))


# -- probes over a copying sync ---------------------------------------------------------


@pytest.mark.parametrize("probe", ["create_sync", "update_propagation", "delete_cascade"])
async def test_probe_passes_when_the_sync_copies_everything(
    dbs: Databases, target: Target, sync: Sync, probe: str
) -> None:
    result = await run(dbs, target, probe)

    assert (result.outcome, result.error, result.inconsistencies) == ("pass", None, ())
    assert all(s.seconds is not None and s.seconds > 0 for s in result.syncs)
    assert dbs.rows("auth") == []  # cleaned up


async def test_a_create_the_sync_skips_is_reported_as_missing(
    dbs: Databases, target: Target, sync: Sync
) -> None:
    sync.skip.add("creates")

    result = await run(dbs, target, "create_sync")

    assert [i.kind for i in result.inconsistencies] == ["missing"]


async def test_an_update_the_sync_skips_is_reported_as_stale(
    dbs: Databases, target: Target, sync: Sync
) -> None:
    sync.skip.add("updates")

    result = await run(dbs, target, "update_propagation")

    assert [i.kind for i in result.inconsistencies] == ["stale"]


async def test_dependents_the_sync_leaves_are_reported_as_cascade(
    dbs: Databases, target: Target, sync: Sync
) -> None:
    sync.skip.add("cascade")

    result = await run(dbs, target, "delete_cascade")

    assert [i.kind for i in result.inconsistencies] == ["cascade"]


# -- the calls ----------------------------------------------------------------------------


def tagged(n: int) -> dict[str, str]:
    return {"email": f"probe-1790000000-{n:010x}@{DOMAIN}", "display_name": "P", "profile.city": ""}


async def test_create_binds_every_field_and_get_reads_them_back(target: Target) -> None:
    user_id = await target.auth.create({**tagged(1), "profile.city": "Oslo"})

    assert await target.auth.get(user_id) == {**tagged(1), "profile.city": "Oslo"}


async def test_update_changes_only_the_given_fields(target: Target) -> None:
    user_id = await target.auth.create({**tagged(1), "profile.city": "Oslo"})

    await target.auth.update(user_id, {"display_name": "Q"})

    assert await target.auth.get(user_id) == {
        **tagged(1),
        "display_name": "Q",
        "profile.city": "Oslo",
    }


async def test_a_second_create_with_the_same_email_is_already_exists(target: Target) -> None:
    await target.auth.create(tagged(1))

    with pytest.raises(AlreadyExists, match="UNIQUE constraint failed"):
        await target.auth.create(tagged(1))


async def test_missing_users_are_none_or_not_found(target: Target) -> None:
    assert await target.auth.get("404") is None
    assert await target.backend.get_user("404") is None
    with pytest.raises(NotFound):
        await target.auth.inner.update("404", {"display_name": "x"})
    with pytest.raises(NotFound):
        await target.auth.inner.delete("404")


async def test_list_returns_the_ids_and_emails_under_the_suffix(
    dbs: Databases, target: Target
) -> None:
    dbs.insert_alice()
    user_id = await target.auth.create(tagged(1))

    assert await target.auth.list(f"@{DOMAIN}") == [(user_id, tagged(1)["email"])]


async def test_a_transaction_told_to_fail_leaves_nothing(dbs: Databases, target: Target) -> None:
    failed = await target.auth.transaction(tagged(1), fail=True)
    committed = await target.auth.transaction(tagged(2), fail=False)

    assert (failed.committed, committed.committed) == (False, True)
    assert [row[1] for row in dbs.rows("auth")] == [tagged(2)["email"]]


async def test_counts_and_dependents_come_from_the_backend_queries(
    dbs: Databases, target: Target, sync: Sync
) -> None:
    user_id = await target.auth.create(tagged(1))
    sync.copy()

    await target.backend.create_dependent(user_id, "t1")

    assert await target.backend.count_users(user_id) == 1
    assert await target.backend.get_dependents(user_id) == 1


async def test_sql_syntax_in_field_values_is_stored_verbatim(
    dbs: Databases, target: Target
) -> None:
    values = {**tagged(1), "display_name": "'); DROP TABLE users; --",
              "profile.city": "O'Brien \\\" \\\\ ; -- ☃ 東京 \x01"}  # fmt: skip

    user_id = await target.auth.create(values)

    assert await target.auth.get(user_id) == values
    assert dbs.rows("auth", "SELECT count(*) FROM sqlite_master WHERE name = 'users'") == [(1,)]


# -- the guard ---------------------------------------------------------------------------


async def test_refuses_to_update_or_delete_an_untagged_auth_user(
    dbs: Databases, target: Target
) -> None:
    alice = dbs.insert_alice()
    before = dbs.rows("auth")

    with pytest.raises(UntaggedRecord):
        await target.auth.update(alice, {"display_name": "Mallory"})
    with pytest.raises(UntaggedRecord):
        await target.auth.delete(alice)

    assert dbs.rows("auth") == before


async def test_refuses_to_write_dependents_or_delete_an_untagged_backend_user(
    dbs: Databases, target: Target
) -> None:
    alice = dbs.insert_alice()
    before = dbs.rows("backend")

    with pytest.raises(UntaggedRecord, match="not under the synthetic domain"):
        await target.backend.create_dependent(alice, "t")
    with pytest.raises(UntaggedRecord):
        await target.backend.delete_user(alice)

    assert dbs.rows("backend") == before
    assert dbs.rows("backend", "SELECT * FROM sessions") == []


async def test_a_backend_without_email_refuses_every_write(dbs: Databases) -> None:
    side = SqlSide.model_validate(
        sql_side(dbs.dsn("backend"), BACKEND_QUERIES) | {"fields": ["display_name"]}
    )
    backend = SqlBackendSide(side, domain=DOMAIN)

    with pytest.raises(UntaggedRecord, match="does not return email"):
        await backend.delete_user("1")
    await backend.close()


# -- errors ------------------------------------------------------------------------------


def side_with(dbs: Databases, which: str, **queries: str) -> SqlSide:
    base = AUTH_QUERIES if which == "auth" else BACKEND_QUERIES
    return SqlSide.model_validate(
        sql_side(dbs.dsn(which), base | queries, statement_timeout="200ms")
    )


async def test_a_statement_over_the_timeout_is_interrupted(dbs: Databases) -> None:
    endless = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    )
    backend = SqlBackendSide(side_with(dbs, "backend", count_users=endless), domain=DOMAIN)

    with pytest.raises(TargetError, match=r"^statement timed out after 0\.2 s$"):
        await backend.count_users("1")
    assert await backend.get_user("1") is None  # the connection is still usable
    await backend.close()


async def test_a_failing_query_names_the_query_and_the_database_error(dbs: Databases) -> None:
    auth = SqlAuthSide(side_with(dbs, "auth", get="SELECT * FROM nowhere WHERE id = :id"))

    with pytest.raises(TargetError) as caught:
        await auth.get("1")

    assert str(caught.value) == "query get failed: OperationalError: no such table: nowhere"
    await auth.close()


async def test_a_query_without_a_field_column_names_it(dbs: Databases) -> None:
    backend = SqlBackendSide(
        side_with(dbs, "backend", get_user="SELECT email FROM users"), domain=DOMAIN
    )
    dbs.insert_alice()

    with pytest.raises(TargetError, match=r"returns no column display_name, profile\.city"):
        await backend.get_user("7")
    await backend.close()


async def test_a_database_that_cannot_be_opened_is_a_connect_error(tmp_path: Path) -> None:
    side = SqlSide.model_validate(
        sql_side(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir.sqlite", BACKEND_QUERIES)
    )
    backend = SqlBackendSide(side, domain=DOMAIN)

    with pytest.raises(TargetError, match=r"^cannot connect to .*dir\.sqlite: unable to open"):
        await backend.get_user("1")
    await backend.close()
    # aiosqlite stops a failed connection's thread without waiting; let it end in this loop
    await eventually(sqlite_threads, lambda n: n == 0, within=5.0, every=0.01)


async def sqlite_threads() -> int:
    return sum("_connection_worker_thread" in t.name for t in threading.enumerate())


@pytest.mark.parametrize(
    ("dsn", "problem"),
    [
        ("postgresql+asyncpg://u:hunter2@[::1", "not a database URL"),
        ("mysql://u:hunter2@db/x", "unsupported driver mysql"),
        ("postgresql+psycopg2://u:hunter2@db/x", "unsupported driver postgresql+psycopg2"),
    ],
)
def test_a_bad_dsn_is_named_without_its_password(dsn: str, problem: str) -> None:
    with pytest.raises(TargetError, match=re.escape(problem)) as caught:
        database_url(dsn)

    assert "hunter2" not in str(caught.value)


def test_plain_scheme_dsns_get_the_async_drivers() -> None:
    assert database_url("postgresql://db/x").drivername == "postgresql+asyncpg"
    assert database_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"


def test_a_query_using_a_parameter_its_call_does_not_bind_is_named(dbs: Databases) -> None:
    side = side_with(dbs, "backend", count_users="SELECT count(*) FROM users WHERE x = :user")

    assert query_problems(side) == [
        ("queries.count_users", "uses :user; count_users binds only :id")
    ]


def test_a_postgres_style_cast_of_a_parameter_is_named(dbs: Databases) -> None:
    side = side_with(dbs, "backend", count_users="SELECT count(*) FROM users WHERE id = :id::int")

    assert query_problems(side) == [
        ("queries.count_users", "write CAST(:id AS int); :id::int is not read as a parameter")
    ]


def test_the_example_queries_use_only_bound_parameters(dbs: Databases) -> None:
    assert query_problems(side_with(dbs, "auth")) == []
    assert query_problems(side_with(dbs, "backend")) == []


def test_the_sides_offer_the_configured_calls_but_never_an_outage(dbs: Databases) -> None:
    side = side_with(dbs, "backend", outage="SELECT 1")

    assert SqlBackendSide(side, domain=DOMAIN).calls == set(BACKEND_QUERIES)
    assert SqlAuthSide(side_with(dbs, "auth")).calls == set(AUTH_QUERIES)


def test_the_config_rejects_an_unknown_query(dbs: Databases) -> None:
    with pytest.raises(ConfigError, match=r"auth\.queries\.create_user: unknown call"):
        sql_config(
            sql_side(dbs.dsn("auth"), AUTH_QUERIES | {"create_user": "SELECT 1"}),
            sql_side(dbs.dsn("backend"), BACKEND_QUERIES),
        )
