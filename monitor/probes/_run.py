"""One probe run: timed calls, findings, the run's timeout, and cleanup of what it created."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from monitor.probes._convergence import Observation, Pacer, wait_until
from monitor.probes._convergence import hold as hold_while_ok
from monitor.probes._sides import TimedAuth, TimedBackend
from monitor.results import Inconsistency, ProbeResult, Step, Sync, outcome_of
from monitor.settings import Deadlines, ProbeSettings
from monitor.targets.base import Fields, NotFound, Target, TargetError, Throttled

T = TypeVar("T")
log = logging.getLogger("monitor.probes")

CLEANUP_FIRST_PAUSE = 0.05  # between attempts at a failing cleanup delete, doubling
CLEANUP_MAX_PAUSE = 1.0


class ProbeError(Exception):
    """The probe could not finish its check; the message names the call and the cause."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


@dataclass
class SyntheticUser:
    """A tagged user this run created, with the field values Auth holds for it and
    every earlier set of values it held (oldest first)."""

    id: str
    email: str
    fields: Fields
    history: list[Fields] = field(default_factory=list)


class ProbeRun:
    """Collects one run's steps, syncs and findings; cleans up in every case.

    Use as `async with ProbeRun(name, target, settings) as run:`; any exception in the
    body becomes `outcome=error` (keeping what was found before), the run's timeout
    applies, and every user the run created is deleted under a shielded deadline.
    """

    def __init__(self, probe: str, target: Target, settings: ProbeSettings) -> None:
        self.probe = probe
        self.target = target
        self.settings = settings
        self.clock = target.clock
        self.auth = TimedAuth(target.auth, self.call)
        self.backend = TimedBackend(target.backend, self.call)
        self.reads = TimedBackend(target.backend, self.untimed)
        self._steps: list[Step] = []
        self._syncs: list[Sync] = []
        self._found: list[Inconsistency] = []
        self._error: str | None = None
        self._cleanup_problem = ""  # the last error of a failing cleanup delete
        self._users: dict[str, SyntheticUser] = {}
        self._deleted: set[str] = set()
        self._active: list[str] = []  # calls and waits under way, named in a timeout error
        self._timeout = asyncio.timeout(settings.timeout)
        self._started_wall = 0.0
        self._t0 = 0.0
        self._t1 = 0.0

    @property
    def deadlines(self) -> Deadlines:
        return self.settings.deadlines

    async def __aenter__(self) -> ProbeRun:
        self._started_wall = self.clock.wall()
        self._t0 = self.clock.monotonic()
        await self._timeout.__aenter__()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        handled = isinstance(exc, Exception)
        try:
            await self._timeout.__aexit__(et, exc, tb)
        except TimeoutError:  # our own deadline: the cancellation it caused ends here
            active = ", ".join(dict.fromkeys(self._active))
            during = f" (during {active})" if active else ""
            self._error = f"timed out after {self.settings.timeout:g} s{during}"
            handled = True
        else:
            if isinstance(exc, Exception):
                self._note_error(exc)
        await self._clean_up()
        self._t1 = self.clock.monotonic()
        return handled

    def _note_error(self, exc: Exception) -> None:
        if isinstance(exc, ProbeError):
            self._error = str(exc)
        else:
            log.exception("probe %s on %s crashed", self.probe, self.target.name, exc_info=exc)
            self._error = f"internal error: {type(exc).__name__}: {exc}"

    def result(self) -> ProbeResult:
        return ProbeResult(
            target=self.target.name,
            probe=self.probe,
            outcome=outcome_of(self._found, self._error),
            started_at=self._started_wall,
            duration_seconds=self._t1 - self._t0,
            syncs=tuple(self._syncs),
            steps=tuple(self._steps),
            inconsistencies=tuple(self._found),
            error=self._error,
        )

    # -- calls -------------------------------------------------------------------------

    async def call(
        self, name: str, call: Awaitable[T], expected: tuple[type[Exception], ...] = ()
    ) -> T:
        """Time one adapter call as a step; a failure becomes a ProbeError naming the call."""
        started = self._begin(name)
        try:
            return await call
        except expected:
            raise
        except TargetError as exc:
            raise ProbeError(f"{name}: {exc}", throttled=isinstance(exc, Throttled)) from exc
        finally:
            self._end(name, started)

    def _begin(self, name: str) -> float:
        self._active.append(name)
        return self.clock.monotonic()

    def _end(self, name: str, started: float) -> None:
        """Record the step; when the run is being cancelled, it stays named as under way."""
        self._steps.append(Step(name, self.clock.monotonic() - started, started))
        task = asyncio.current_task()
        if not (task and task.cancelling()):
            self._active.remove(name)

    async def untimed(
        self, name: str, call: Awaitable[T], expected: tuple[type[Exception], ...] = ()
    ) -> T:
        """A read inside a convergence wait: errors are named, but it is not a step."""
        try:
            return await call
        except expected:
            raise
        except TargetError as exc:
            raise ProbeError(f"{name}: {exc}") from exc

    def found(self, kind: str, detail: str) -> None:
        self._found.append(Inconsistency(kind, detail))

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds of inconsistency found so far."""
        return frozenset(i.kind for i in self._found)

    # -- synthetic users --------------------------------------------------------------

    def new_fields(self) -> Fields:
        """A fresh tagged email and a non-default value in every field Backend mirrors."""
        rng = self.target.rng
        fields = {f: f"{_short(f)}-{rng.getrandbits(32):08x}" for f in self.mutable_fields}
        return {"email": self.target.new_email(), **fields}

    @property
    def mutable_fields(self) -> list[str]:
        return [f for f in self.target.backend.fields if f != "email"]

    def track(self, user_id: str, fields: Fields) -> SyntheticUser:
        """Remember a created user so cleanup deletes it."""
        user = SyntheticUser(user_id, fields["email"], dict(fields))
        self._users.setdefault(user_id, user)
        return self._users[user_id]

    def deleted(self, user_id: str) -> None:
        self._deleted.add(user_id)

    async def create_user(self, fields: Fields | None = None) -> tuple[SyntheticUser, float]:
        """Create a tagged user in Auth; returns it and the instant Auth acknowledged."""
        fields = fields or self.new_fields()
        user_id = await self.auth.create(fields)
        acked = self.clock.monotonic()
        return self.track(user_id, fields), acked

    # -- waiting ----------------------------------------------------------------------

    def pacer(self, operation: str) -> Pacer:
        key = f"pacer:{operation}"
        pacer = self.target.state.get(key)
        if pacer is None:  # not setdefault: that would build a Pacer on every wait
            pacer = self.target.state[key] = Pacer()
        assert isinstance(pacer, Pacer)
        return pacer

    async def wait(
        self,
        operation: str,
        read: Callable[[], Awaitable[T]],
        done: Callable[[T], bool],
        *,
        acked: float,
        sync: bool = True,
    ) -> Observation[T]:
        """Wait until `done`, at most until `acked + give_up`; a sync also checks `slow`."""
        name = f"backend.wait_{operation}"
        started = self._begin(name)
        try:
            obs = await wait_until(
                read,
                done,
                acked=acked,
                deadline=acked + self.deadlines.give_up,
                clock=self.clock,
                pacer=self.pacer(operation),
                checkpoint=self.deadlines.sync if sync else None,
            )
        finally:
            self._end(name, started)
        if sync:
            self._record_sync(operation, obs, acked)
        return obs

    async def hold(
        self,
        operation: str,
        read: Callable[[], Awaitable[T]],
        ok: Callable[[T], bool],
        *,
        until: float,
    ) -> T | None:
        """Keep reading until `until` (a `backend.wait_<operation>` step); the first value
        that is not `ok`, else None."""
        name = f"backend.wait_{operation}"
        started = self._begin(name)
        try:
            return await hold_while_ok(read, ok, until=until, clock=self.clock)
        finally:
            self._end(name, started)

    def _record_sync(self, operation: str, obs: Observation[Any], acked: float) -> None:
        """A sync is `slow` only when a read at or past the threshold did not yet see it."""
        self._syncs.append(Sync(operation, obs.seconds, obs.reads, acked))
        limit = self.deadlines.sync
        if obs.converged and obs.after >= limit:
            self.found(
                "slow",
                f"{operation} visible in backend after {obs.seconds:.3f} s, not yet at "
                f"{obs.after:.3f} s (threshold {limit:g} s)",
            )

    # -- cleanup ----------------------------------------------------------------------

    async def _clean_up(self) -> None:
        """Delete what is left in a task of its own, shielded from the run's cancellation
        (only when something is left: runs that deleted their users need none)."""
        self.target.on_cleanup(list(self._users))
        left = [u for u in self._users if u not in self._deleted]
        if not left:
            return
        task = asyncio.ensure_future(self._delete_all(left))
        self.target.cleanups.add(task)
        task.add_done_callback(self.target.cleanups.discard)
        try:
            await asyncio.shield(task)
        except TimeoutError:
            last = f"; last error: {self._cleanup_problem}" if self._cleanup_problem else ""
            self._cleanup_failed(f"timed out after {self.settings.cleanup_deadline:g} s{last}")

    async def _delete_all(self, users: list[str]) -> None:
        """Delete `users`, a few at a time, within the cleanup deadline."""
        async with asyncio.timeout(self.settings.cleanup_deadline):
            limit = asyncio.Semaphore(self.target.max_concurrency)

            async def delete(user_id: str) -> None:
                async with limit:
                    await self._delete_with_retry(user_id)

            await asyncio.gather(*(delete(u) for u in users))

    async def _delete_with_retry(self, user_id: str) -> None:
        """Retry until the user is gone or the cleanup deadline cuts it short: a failing
        delete is often transient, and every user left behind is a leak (the ledger and
        the janitor cover what the deadline does not)."""
        pause = CLEANUP_FIRST_PAUSE
        while True:
            try:
                await self.call("auth.delete", self.target.auth.delete(user_id), (NotFound,))
                return
            except NotFound:
                return
            except ProbeError as exc:
                self._cleanup_problem = str(exc)
            except Exception as exc:  # an adapter's bug must not keep the other users
                log.exception("cleanup of %s on %s raised", self.probe, self.target.name)
                self._cleanup_problem = f"internal error: {type(exc).__name__}: {exc}"
            await self.clock.sleep(pause)
            pause = min(CLEANUP_MAX_PAUSE, pause * 2)

    def _cleanup_failed(self, why: str) -> None:
        log.warning("cleanup of %s on %s failed: %s", self.probe, self.target.name, why)
        if self._error is None:
            self._error = f"cleanup failed, the ledger keeps the rest for the janitor: {why}"


def _short(field: str) -> str:
    """`profile.city` → `city`: values say which field they belong to."""
    return field.rsplit(".", 1)[-1]


Check = Callable[[ProbeRun], Awaitable[None]]
Run = Callable[[Target, ProbeSettings], Coroutine[Any, Any, ProbeResult]]


def probe_runner(name: str, check: Check) -> Run:
    """A probe's `run(target, settings)`: `check` inside a ProbeRun, which catches errors,
    applies the timeout and cleans up."""

    async def run(target: Target, settings: ProbeSettings) -> ProbeResult:
        async with ProbeRun(name, target, settings) as probe:
            await check(probe)
        return probe.result()

    run.__doc__ = f"Run the {name} probe once on `target`."
    return run
