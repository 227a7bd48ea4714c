"""SQL on both sides over a real pipeline: two PostgreSQL clusters joined by logical
replication. Auth is the publisher's `users` table, Backend the subscriber's copy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from support.network import free_port
from support.postgres import Cluster, Clusters
from support.sql_targets import (
    AUTH_QUERIES,
    BACKEND_QUERIES,
    DEADLINES,
    RECORD,
    settings,
    sql_config,
    sql_side,
    sql_target,
)
from support.waiting import eventually, eventually_sync

from monitor.config import Config
from monitor.results import ProbeResult
from monitor.runner import run_probe
from monitor.targets.base import AuthSide, Target, TargetError, UntaggedRecord

pytestmark = pytest.mark.integration

AUTH_SCHEMA = """
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    email text NOT NULL UNIQUE, display_name text NOT NULL DEFAULT '',
                    city text NOT NULL DEFAULT '');
CREATE TABLE sessions (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                       user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
                       token text NOT NULL);
CREATE PUBLICATION users_pub FOR TABLE users, sessions;
"""
BACKEND_SCHEMA = """
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, display_name text NOT NULL,
                    city text NOT NULL);
CREATE TABLE sessions (id bigint PRIMARY KEY, user_id bigint NOT NULL, token text NOT NULL);
"""
SUBSCRIPTION = "users_sub"
CONTENTS = (
    "SELECT coalesce(string_agg(concat_ws(':', id, email, display_name, city), ',' "
    "ORDER BY id), '') FROM users"
)
APPLY_WORKER = (
    f"SELECT pid FROM pg_stat_subscription WHERE subname = '{SUBSCRIPTION}' AND relid IS NULL"
)
ALICE = ("alice@example.com", "Alice", "Oslo")
PASSWORD = "s3cret-Pa55"


@dataclass
class Pipeline:
    """Auth database on one cluster, replicated into the Backend database on another."""

    auth: Cluster
    auth_db: str
    backend: Cluster
    backend_db: str

    def config(
        self, auth: Mapping[str, Any] | None = None, backend: Mapping[str, Any] | None = None
    ) -> Config:
        """The target's config, with `auth`/`backend` options laid over the sides'."""
        return sql_config(
            sql_side(self.auth.dsn(self.auth_db), AUTH_QUERIES) | dict(auth or {}),
            sql_side(self.backend.dsn(self.backend_db), BACKEND_QUERIES) | dict(backend or {}),
        )

    async def fetch(self, side: str, sql: str, *args: Any) -> Any:
        cluster, db = (
            (self.auth, self.auth_db) if side == "auth" else (self.backend, self.backend_db)
        )
        conn = await cluster.connect(db)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def stop_replication(self) -> None:
        """Disable the subscription and wait until its apply worker has exited."""
        await self.fetch("backend", f"ALTER SUBSCRIPTION {SUBSCRIPTION} DISABLE")
        await eventually(
            lambda: self.fetch("backend", APPLY_WORKER),
            lambda pid: pid is None,
            within=10,
            every=0.01,
            what="apply worker exit",
        )

    async def start_replication(self) -> None:
        """Enable the subscription and wait until Backend has caught up with Auth."""
        await self.fetch("backend", f"ALTER SUBSCRIPTION {SUBSCRIPTION} ENABLE")
        await self.caught_up()

    async def caught_up(self) -> None:
        auth = await self.fetch("auth", CONTENTS)
        await eventually(
            lambda: self.fetch("backend", CONTENTS),
            lambda rows: rows == auth,
            within=10,
            every=0.01,
            what="backend caught up",
        )


@pytest.fixture(scope="module")
def pipeline(postgres_clusters: Clusters) -> Iterator[Pipeline]:
    auth, backend = postgres_clusters.get("main"), postgres_clusters.get("replica")
    pipeline = Pipeline(auth, auth.new_database("auth"), backend, backend.new_database("backend"))
    auth.psql(AUTH_SCHEMA, pipeline.auth_db)
    backend.psql(BACKEND_SCHEMA, pipeline.backend_db)
    backend.psql(
        f"CREATE SUBSCRIPTION {SUBSCRIPTION} CONNECTION '{auth.conninfo(pipeline.auth_db)}' "
        "PUBLICATION users_pub",
        pipeline.backend_db,
    )
    eventually_sync(
        lambda: backend.psql(
            "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'", pipeline.backend_db
        ),
        lambda pending: pending == "0",
        within=30,
        what="initial table sync",
    )
    yield pipeline
    backend.psql(f"DROP SUBSCRIPTION {SUBSCRIPTION}", pipeline.backend_db)  # drops A's slot


@pytest.fixture
async def target(pipeline: Pipeline) -> AsyncIterator[Target]:
    target = sql_target(pipeline.config())
    yield target
    await target.close()


@pytest.fixture
async def stopped(pipeline: Pipeline) -> AsyncIterator[Pipeline]:
    """Replication stopped for the test, started again (and caught up) after it."""
    await pipeline.stop_replication()
    yield pipeline
    await pipeline.start_replication()


async def run(target: Target, probe: str, config: Config) -> ProbeResult:
    return await run_probe(target, probe, settings(config, probe))


# -- the pipeline healthy, stopped, started again --------------------------------------


@pytest.mark.parametrize(
    "probe", ["create_sync", "update_propagation", "duplicate", "transaction", "rollback"]
)
async def test_probe_passes_over_logical_replication_and_times_the_sync(
    pipeline: Pipeline, target: Target, probe: str
) -> None:
    result = await run(target, probe, pipeline.config())

    assert (result.outcome, result.error, result.inconsistencies) == ("pass", None, ())
    if probe != "rollback":  # a rollback has nothing to propagate
        assert result.syncs and all(s.seconds is not None and s.seconds > 0 for s in result.syncs)


async def test_a_create_while_the_subscription_is_disabled_is_missing(
    stopped: Pipeline, target: Target
) -> None:
    result = await run(target, "create_sync", stopped.config())

    assert [i.kind for i in result.inconsistencies] == ["missing"]
    assert result.duration_seconds < DEADLINES["give_up"] + 1.0


class StopsBeforeUpdate:
    """An Auth side whose pipeline breaks between a create and the update after it."""

    def __init__(self, inner: AuthSide, pipeline: Pipeline) -> None:
        self._inner = inner
        self._pipeline = pipeline

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def update(self, user_id: str, changes: Mapping[str, str]) -> None:
        await self._pipeline.stop_replication()
        await self._inner.update(user_id, changes)


async def test_an_update_after_the_subscription_is_disabled_is_stale(
    pipeline: Pipeline, target: Target
) -> None:
    target.auth.inner = StopsBeforeUpdate(target.auth.inner, pipeline)  # type: ignore[assignment]
    try:
        result = await run(target, "update_propagation", pipeline.config())
    finally:
        await pipeline.start_replication()

    assert [i.kind for i in result.inconsistencies] == ["stale"]
    assert [s.operation for s in result.syncs] == ["create", "update"]
    assert result.syncs[1].seconds is None


async def test_probes_pass_again_once_the_subscription_is_enabled(
    pipeline: Pipeline, target: Target
) -> None:
    await pipeline.stop_replication()
    backlog = await target.auth.create(
        {"email": target.new_email(), "display_name": "backlog", "profile.city": ""}
    )
    await pipeline.start_replication()

    results = [
        await run(target, p, pipeline.config()) for p in ("create_sync", "update_propagation")
    ]

    assert [r.outcome for r in results] == ["pass", "pass"]
    assert await target.backend.get_user(backlog) is not None
    await target.auth.delete(backlog)


# -- values, the guard -----------------------------------------------------------------


async def test_sql_syntax_in_values_is_stored_and_replicated_verbatim(
    pipeline: Pipeline, target: Target
) -> None:
    values = {
        "email": target.new_email(),
        "display_name": "'); DROP TABLE users; --",
        "profile.city": "O'Brien \" \\ \\' $1 :id ; -- /* ☃ 東京 é 🙂",
    }

    user_id = await target.auth.create(values)
    mirrored = await eventually(
        lambda: target.backend.get_user(user_id), lambda r: r is not None, within=10, every=0.01
    )

    assert await target.auth.get(user_id) == values
    assert mirrored == values
    assert await pipeline.fetch("auth", "SELECT to_regclass('users')::text") == "users"
    assert await pipeline.fetch("backend", "SELECT to_regclass('users')::text") == "users"
    await target.auth.delete(user_id)


async def test_refuses_to_touch_an_untagged_user_on_either_side(
    pipeline: Pipeline, target: Target
) -> None:
    alice = str(
        await pipeline.fetch(
            "auth",
            "INSERT INTO users (email, display_name, city) VALUES ($1, $2, $3) RETURNING id",
            *ALICE,
        )
    )
    await pipeline.caught_up()
    try:
        for call in (
            target.auth.update(alice, {"display_name": "Mallory"}),
            target.auth.delete(alice),
            target.backend.create_dependent(alice, "token"),
            target.backend.delete_user(alice),
        ):
            with pytest.raises(UntaggedRecord):
                await call
        for side in ("auth", "backend"):
            assert await pipeline.fetch(side, f"{RECORD} WHERE id = $1", int(alice)) == ALICE[0]
        assert await pipeline.fetch("backend", "SELECT count(*) FROM sessions") == 0
        assert await target.auth.list("@consistency-monitor.invalid") == []
    finally:
        await pipeline.fetch("auth", "DELETE FROM users WHERE id = $1", int(alice))
        await pipeline.caught_up()


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "call"), [("auth", "auth.create"), ("backend", "backend.get_user")]
)
async def test_a_refused_connection_is_an_error_naming_the_address_but_not_the_password(
    pipeline: Pipeline, side: str, call: str
) -> None:
    port = free_port()
    closed = {"dsn": f"postgresql+asyncpg://monitor:{PASSWORD}@127.0.0.1:{port}/users"}
    config = pipeline.config(**{side: closed})
    target = sql_target(config)

    result = await run(target, "create_sync", config)
    await target.close()

    assert result.outcome == "error"
    assert result.error == f"{call}: connection refused (127.0.0.1:{port})"
    assert await pipeline.fetch("auth", "SELECT count(*) FROM users") == 0  # cleaned up


async def test_a_connect_error_from_the_server_names_it_without_the_password(
    pipeline: Pipeline,
) -> None:
    dsn = pipeline.auth.dsn("no_such_db", password=PASSWORD)
    target = sql_target(pipeline.config(auth={"dsn": dsn}))

    with pytest.raises(TargetError) as caught:
        await target.auth.get("1")
    await target.close()

    assert str(caught.value) == (
        f'cannot connect to 127.0.0.1:{pipeline.auth.port}: database "no_such_db" does not exist'
    )
    assert PASSWORD not in str(caught.value)


async def test_a_statement_over_the_timeout_is_an_error_naming_the_timeout(
    pipeline: Pipeline,
) -> None:
    slow = f"{RECORD}, pg_sleep(5) WHERE id = CAST(:id AS bigint)"
    config = pipeline.config(
        backend={"queries": BACKEND_QUERIES | {"get_user": slow}, "statement_timeout": "200ms"}
    )
    target = sql_target(config)

    result = await run(target, "create_sync", config)

    assert result.outcome == "error"
    assert result.error == "backend.get_user: statement timed out after 0.2 s"
    await eventually(  # the statement was cancelled on the server, too
        lambda: pipeline.fetch(
            "backend",
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE query LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()",
        ),
        lambda n: n == 0,
        within=5,
        every=0.02,
    )
    assert await target.backend.count_users("1") == 0  # and the pool still serves
    await target.close()


async def test_a_parameter_compared_with_a_non_text_column_gets_a_hint(
    pipeline: Pipeline,
) -> None:
    uncast = {"get_user": f"{RECORD} WHERE id = :id"}
    target = sql_target(pipeline.config(backend={"queries": BACKEND_QUERIES | uncast}))

    with pytest.raises(TargetError, match=r"bigint = character varying \(every parameter is"):
        await target.backend.get_user("1")
    await target.close()
