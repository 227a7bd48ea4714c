"""One SQL side's database: a small pool, bound queries, a time limit on every statement,
and errors a user can act on (never carrying the DSN's password).

Every parameter is bound, never formatted into the SQL, and bound as text: asyncpg then
has the server cast it (`$1::VARCHAR`), so a query on a non-text column casts it itself,
`WHERE id = CAST(:id AS bigint)`, the same on PostgreSQL and SQLite. Single statements run
in autocommit (one round trip per read, which keeps sync timing tight); only the
`transaction` call opens a transaction of its own.

The statement timeout is enforced by the client: asyncpg's `command_timeout` cancels a
late statement on the server as well, and a SQLite statement is interrupted. Nothing is
sent at connect time but `application_name`, so poolers such as PgBouncer accept it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote_plus

from sqlalchemy import String, bindparam, text
from sqlalchemy.engine import URL, Result, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql.elements import TextClause

from monitor.config_sides import SqlSide
from monitor.targets.base import AlreadyExists, TargetError

T = TypeVar("T")

GRACE = 1.0  # the client-side backstop behind the driver's own statement timeout
DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg",
           "sqlite": "sqlite+aiosqlite"}  # fmt: skip
ASYNC_DRIVERS = frozenset(DRIVERS.values())
UNIQUE_VIOLATIONS = frozenset({"23505", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
TEXT_PARAMETER_HINT = (
    " (every parameter is sent as text: cast it where the column is not, e.g. CAST(:id AS bigint))"
)


def database_url(dsn: str) -> URL:
    """The DSN as an async SQLAlchemy URL; `postgresql://` and `sqlite:///` get the async
    driver. The error never repeats the DSN, which may hold a password."""
    try:
        url = make_url(dsn)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise TargetError(
            "dsn: not a database URL "
            "(expected postgresql+asyncpg://user@host/db or sqlite+aiosqlite:///path)"
        ) from None
    url = url.set(drivername=DRIVERS.get(url.drivername, url.drivername))
    if url.drivername not in ASYNC_DRIVERS:
        raise TargetError(
            f"dsn: unsupported driver {url.drivername} (use postgresql+asyncpg or sqlite+aiosqlite)"
        )
    return url


def bound(sql: str) -> TextClause:
    """The query with each `:name` bound as a text parameter."""
    clause = text(sql)
    names = clause.compile().params
    return clause.bindparams(*(bindparam(name, type_=String()) for name in names))


def parameters(sql: str) -> frozenset[str]:
    """The `:name` parameters a query uses."""
    return frozenset(text(sql).compile().params)


class Database:
    """A side's engine: `run` executes one configured query under the statement timeout."""

    def __init__(self, side: SqlSide) -> None:
        url = database_url(side.dsn.get_secret_value())
        self.where = _where(url)
        self._secret = url.password
        self._limit = side.statement_timeout
        self._pool_size = side.pool_size
        self._sqlite = url.get_backend_name() == "sqlite"
        self._queries = {call: bound(sql) for call, sql in side.queries.items()}
        try:
            self._engine = create_async_engine(url, **_engine_options(url, side))
        except (NoSuchModuleError, ImportError) as exc:
            raise TargetError(f"dsn: cannot load the driver {url.drivername}: {exc}") from None
        self._autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")

    async def run(
        self,
        call: str,
        params: Mapping[str, str | None],
        fetch: Callable[[Result[Any]], T],
        *,
        commit: bool | None = None,
    ) -> T:
        """Run query `call` and `fetch` from its result; `commit` True/False runs it in a
        transaction that is committed/rolled back, None in autocommit."""
        phase = "connect"
        engine = self._autocommit if commit is None else self._engine
        try:
            async with asyncio.timeout(self._limit + GRACE), engine.connect() as conn:
                phase = "statement"
                result = fetch(await self._execute(conn, call, params))
                if commit is not None:
                    await (conn.commit() if commit else conn.rollback())
                return result
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise self._failure(call, phase, exc) from None

    async def _execute(
        self, conn: AsyncConnection, call: str, params: Mapping[str, str | None]
    ) -> Result[Any]:
        """asyncpg times statements out itself; a SQLite statement is interrupted."""
        statement = self._queries[call]
        if not self._sqlite:
            return await conn.execute(statement, dict(params))
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None  # a checked-out connection is live
        task = asyncio.ensure_future(conn.execute(statement, dict(params)))
        try:
            done, _ = await asyncio.wait({task}, timeout=self._limit)
            if done:
                return task.result()
            await driver.interrupt()
            with contextlib.suppress(SQLAlchemyError):
                await task
            raise TimeoutError
        finally:
            task.cancel()

    async def close(self) -> None:
        await self._engine.dispose()

    # -- errors ------------------------------------------------------------------------

    def _failure(self, call: str, phase: str, exc: Exception) -> TargetError:
        if phase == "connect":
            message = self._connect_problem(exc)
        else:
            message = self._statement_problem(call, exc)
        message = self._redacted(message)
        return AlreadyExists(message) if _unique_violation(exc) else TargetError(message)

    def _connect_problem(self, exc: Exception) -> str:
        where = self.where
        if isinstance(exc, ConnectionRefusedError):
            return f"connection refused ({where})"
        if isinstance(exc, socket.gaierror):
            return f"cannot resolve the host of {where}: {exc.strerror or exc}"
        if isinstance(exc, TimeoutError):
            return f"connecting to {where} timed out after {self._limit:g} s"
        if isinstance(exc, PoolTimeout):
            return (
                f"no free connection to {where} within {self._limit:g} s "
                f"(all {self._pool_size} of the pool busy)"
            )
        return f"cannot connect to {where}: {describe(exc, with_class=False)}"

    def _statement_problem(self, call: str, exc: Exception) -> str:
        if isinstance(exc, TimeoutError):
            return f"statement timed out after {self._limit:g} s"
        if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or isinstance(exc, OSError):
            return f"connection to {self.where} lost: {describe(exc, with_class=False)}"
        detail = describe(exc, with_class=True)
        if "operator does not exist" in detail and "character varying" in detail:
            detail += TEXT_PARAMETER_HINT
        return f"query {call} failed: {detail}"

    def _redacted(self, message: str) -> str:
        if self._secret:
            for form in {self._secret, quote_plus(self._secret)}:
                message = message.replace(form, "***")
        return message


def _where(url: URL) -> str:
    """`127.0.0.1:5432` for a server, the file's path for SQLite."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _engine_options(url: URL, side: SqlSide) -> dict[str, Any]:
    limit = side.statement_timeout
    if url.get_backend_name() == "sqlite":
        connect_args: dict[str, Any] = {"timeout": limit}  # waiting on a lock, too
    else:
        connect_args = {
            "timeout": limit,
            "command_timeout": limit,
            "server_settings": {"application_name": "consistency-monitor"},
        }
    options: dict[str, Any] = {"connect_args": connect_args}
    if url.database not in (None, "", ":memory:"):  # an in-memory SQLite has a static pool
        options |= {"pool_size": side.pool_size, "max_overflow": 0, "pool_timeout": limit}
    return options


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception under SQLAlchemy's wrappers (asyncpg's names the cause)."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        orig: BaseException = exc.orig
        return orig.__cause__ or orig
    return exc


def describe(exc: BaseException, *, with_class: bool) -> str:
    """`UndefinedTableError: relation "users" does not exist`: the class and first line."""
    error = _driver_error(exc)
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(error, SQLAlchemyError) and first.startswith("("):
        first = first.split(") ", 1)[-1]  # "(sqlalchemy.exc.X) message" → "message"
    if not with_class:
        return first or type(error).__name__
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _unique_violation(exc: BaseException) -> bool:
    if not isinstance(exc, IntegrityError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    return code in UNIQUE_VIOLATIONS
