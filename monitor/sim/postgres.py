"""The simulated Backend in PostgreSQL (`simulate --backend-dsn`): users and dependents in
tables, kept the way a service that mirrors another service's users keeps them.

`users` has a row per mirrored user and no unique key (a duplicated create shows as a
second row); `sessions`, the dependents, name their user by auth id with no foreign key,
so it is this Backend's code that deletes them with the user, and `skip_cascade` is that
code skipping the DELETE. Statements are constants; every value is a bound parameter.

The sync pipeline's deliveries and the sweeper's runs are carried out by one worker in
the order they were submitted, each in a transaction of its own: the shared rules
(`monitor.sim.plan`) decide the writes from what the tables hold, and a change is
visible in ground truth from the moment its transaction committed.

Ground truth is judged synchronously (`World.observable`), so the backend keeps a
shadow: the in-memory `SimBackend` of what the simulator wrote, with versions and write
stamps, brought up to date as each write commits (a deleted user's dependents as the
deletion reads them). What others write to the tables directly, such as a `kind: sql`
backend side adding a dependent or deleting a user, is read by the rules and the Backend
service but is not in the shadow.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from monitor.sim.backend import SimBackend
from monitor.sim.model import Event, Fields, NotFoundError, SimError, Unavailable
from monitor.sim.pg_tables import (
    COLUMNS,
    EXISTING,
    SCHEMA,
    STATEMENTS,
    TABLES,
    postgres_url,
    row_params,
)
from monitor.sim.plan import Held, Insert, Remove, Update, Write
from monitor.targets.sql_database import describe

log = logging.getLogger("monitor.sim.postgres")

TIMEOUT = 5.0  # connecting, waiting for a pooled connection, and every statement
Job = Callable[[], Awaitable[None]]


class PgBackend:
    """The Backend's storage in PostgreSQL; `shadow` is ground truth's view of it."""

    def __init__(self, dsn: str, shadow: SimBackend) -> None:
        url = postgres_url(dsn)
        self.shadow = shadow
        self.rules = shadow.rules
        self._truth = shadow.rules.truth
        self.where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
        self._engine = create_async_engine(
            url,
            pool_size=5,
            max_overflow=10,
            pool_timeout=TIMEOUT,
            connect_args={
                "timeout": TIMEOUT,
                "command_timeout": TIMEOUT,
                "server_settings": {"application_name": "consistency-monitor simulate"},
            },
        )
        self._autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._unfinished = 0
        self._worker: asyncio.Task[None] | None = None

    @property
    def down(self) -> bool:
        return self.shadow.down

    @down.setter
    def down(self, active: bool) -> None:
        self.shadow.down = active

    # -- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        """Create the tables, or empty simulate's own (the Auth they mirror starts empty);
        SimError when tables of those names with other columns exist."""
        async with self._connection(transaction=True) as conn:
            await self._refuse_foreign_tables(conn)
            for statement in SCHEMA:
                await conn.execute(text(statement))
            await conn.execute(text("DELETE FROM sessions"))
            await conn.execute(text("DELETE FROM users"))
        self._worker = asyncio.create_task(self._work(), name="pg-backend-writes")

    async def _refuse_foreign_tables(self, conn: AsyncConnection) -> None:
        found: dict[str, set[str]] = {}
        for table, column in (await conn.execute(text(EXISTING))).all():
            found.setdefault(table, set()).add(column)
        for table, columns in found.items():
            if columns != TABLES[table]:
                raise SimError(
                    f"table {table} in {self.where} has other columns than simulate's "
                    f"({', '.join(sorted(columns))}); give simulate a database of its own "
                    "(it empties its tables at start)"
                )

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self._engine.dispose()

    # -- the Backend service ------------------------------------------------------------

    async def get_user(self, user_id: str) -> Fields | None:
        await self.shadow.answer()
        async with self._connection() as conn:
            row = (await conn.execute(STATEMENTS["get_user"], {"id": user_id})).first()
        if row is None:
            return None
        values = row._mapping
        return {f: values[c] for f, c in COLUMNS.items() if values[c] is not None}

    async def count_users(self, user_id: str) -> int:
        await self.shadow.answer()
        return await self._count("count_users", user_id)

    async def get_dependents(self, user_id: str) -> int:
        await self.shadow.answer()
        return await self._count("count_dependents", user_id)

    async def create_dependent(self, user_id: str, token: str) -> None:
        await self.shadow.answer()
        params = {"id": user_id, "token": token}
        async with self._connection() as conn:
            result = await conn.execute(STATEMENTS["create_dependent"], params)
        if not result.rowcount:
            raise NotFoundError(f"no user {user_id}")

    async def delete_user(self, user_id: str) -> None:
        await self.shadow.answer()
        await self.write([Remove(user_id)])

    async def _count(self, statement: str, user_id: str) -> int:
        async with self._connection() as conn:
            return int((await conn.execute(STATEMENTS[statement], {"id": user_id})).scalar_one())

    # -- the simulator's own writes -----------------------------------------------------

    def apply(self, event: Event, now: float, *, faults: bool = True) -> None:
        """Queue the event behind those delivered before it; its faults are decided, and
        their time taken, when the worker applies it, not at delivery (`now`)."""
        self._submit(functools.partial(self._apply, event, faults))

    def sweep(self, orphaned: Callable[[str], bool]) -> None:
        self._submit(functools.partial(self._sweep, orphaned))

    async def write(self, writes: Sequence[Write]) -> None:
        async with self._connection(transaction=True) as conn:
            await self._carry_out(conn, writes)
        self.shadow.commit(writes)

    @property
    def busy(self) -> bool:
        return self._unfinished > 0

    async def drain(self) -> None:
        await self._jobs.join()

    def _submit(self, job: Job) -> None:
        self._unfinished += 1
        self._jobs.put_nowait(job)

    async def _work(self) -> None:
        """Carry out the submitted jobs one after another; a failed one is lost, as a
        delivery during an outage is."""
        while True:
            job = await self._jobs.get()
            try:
                await job()
            except SimError as exc:
                log.warning("backend write lost: %s", exc)
            except Exception:
                log.exception("backend write lost")
            finally:
                self._unfinished -= 1
                self._jobs.task_done()

    async def _apply(self, event: Event, faults: bool) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.down or self.rules.dropped(event, now, faults=faults):
            return
        async with self._connection(transaction=True) as conn:
            held, tokens = await self._held(conn, event.user_id)
            writes = self.rules.plan(event, held, now, faults=faults)
            await self._carry_out(conn, writes)
        if tokens and any(isinstance(w, Remove) for w in writes):
            self.shadow.dependents[event.user_id] = tokens  # kept only by skip_cascade
        self.shadow.commit(writes)
        self._truth.visible(event.seq, loop.time())

    async def _held(self, conn: AsyncConnection, user_id: str) -> tuple[Held, list[str]]:
        """What the tables hold of the user, and its dependents' tokens."""
        rows, tokens = (await conn.execute(STATEMENTS["held"], {"id": user_id})).one()
        return Held(int(rows), len(tokens), self.shadow.held(user_id).written), list(tokens)

    async def _sweep(self, orphaned: Callable[[str], bool]) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        async with self._connection(transaction=True) as conn:
            ids = list((await conn.execute(STATEMENTS["ids"])).scalars())
            removals = self.rules.sweep([uid for uid in ids if orphaned(uid)], now)
            await self._carry_out(conn, removals)
        self.shadow.commit(removals)
        swept = loop.time()
        for removal in removals:
            self._truth.swept(removal.user_id, swept)

    async def _carry_out(self, conn: AsyncConnection, writes: Sequence[Write]) -> None:
        for w in writes:
            if isinstance(w, Insert):
                params = {"id": w.user_id, "version": w.version, **row_params(w.fields)}
                await conn.execute(STATEMENTS["insert"], params)
            elif isinstance(w, Update):
                params = {"id": w.user_id, "version": w.version, **row_params(w.changes)}
                await conn.execute(STATEMENTS["update"], params)
            else:
                if not w.keep_dependents:
                    await conn.execute(STATEMENTS["delete_dependents"], {"id": w.user_id})
                await conn.execute(STATEMENTS["delete_user"], {"id": w.user_id})

    # -- connections --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self, *, transaction: bool = False) -> AsyncIterator[AsyncConnection]:
        """A pooled connection (in a transaction, committed on leaving, or autocommit);
        database failures become Unavailable (503) naming the problem."""
        try:
            async with asyncio.timeout(TIMEOUT * 2):
                if transaction:
                    async with self._engine.begin() as conn:
                        yield conn
                else:
                    async with self._autocommit.connect() as conn:
                        yield conn
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise Unavailable(f"backend database: {self._problem(exc)}") from None

    def _problem(self, exc: BaseException) -> str:
        if isinstance(exc, ConnectionRefusedError):
            return f"connection refused ({self.where})"
        if isinstance(exc, TimeoutError):
            return f"no answer from {self.where} within {TIMEOUT:g} s"
        return f"{self.where}: {describe(exc, with_class=True)}"
