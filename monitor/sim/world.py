"""One simulated deployment: Auth, Backend, the sync pipeline between them, and ground truth."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from monitor.config import SimulatorConfig
from monitor.sim.auth import SimAuth
from monitor.sim.backend import SimBackend
from monitor.sim.faults import FaultDice
from monitor.sim.model import BackendUser, Fields
from monitor.sim.storage import Storage
from monitor.sim.sync import SyncPipeline
from monitor.sim.truth import LIMIT as TRUTH_LIMIT
from monitor.sim.truth import FaultRecord, GroundTruth

BackendFactory = Callable[[SimBackend], Storage]  # given the shadow, the storage to use


class World:
    """Auth and Backend wired together, with transactions, outages and the orphan sweeper.

    The Backend keeps its users in memory, or in the storage `backend` builds (such as
    PostgreSQL). `shadow` is ground truth's view of Backend, what the simulator wrote
    there with versions and write stamps, which `observable` reads: the in-memory
    Backend itself, or the one another storage keeps up to date as its writes commit.
    Call `open` before use and `aclose` after (needed for storage other than memory).
    """

    def __init__(
        self,
        config: SimulatorConfig,
        rng: random.Random | None = None,
        *,
        backend: BackendFactory | None = None,
        truth_limit: int = TRUTH_LIMIT,
    ) -> None:
        self.config = config
        self.rng = rng or random.Random(config.seed)
        self.dice = FaultDice(config.faults, self.rng)
        self.truth = GroundTruth(limit=truth_limit)
        self.shadow = SimBackend(
            latency=config.backend_latency, jitter=0.0, dice=self.dice, truth=self.truth
        )
        self.backend: Storage = backend(self.shadow) if backend else self.shadow
        self.sync = SyncPipeline(
            self.backend,
            delay=config.sync_delay,
            jitter=config.latency_jitter,
            reorder_hold=config.reorder_hold,
            dice=self.dice,
            truth=self.truth,
        )
        self.auth = SimAuth(
            latency=config.auth_latency,
            jitter=config.latency_jitter,
            dice=self.dice,
            truth=self.truth,
            rng=self.rng,
            emit=self.sync.emit,
            deleting=self._deleting,
        )
        self._sweeps: set[asyncio.TimerHandle] = set()

    async def open(self) -> None:
        """Open the Backend's storage (PostgreSQL: connect, create or empty its tables)."""
        await self.backend.open()

    async def transaction(self, fields: Fields, *, fail: bool) -> tuple[str, bool]:
        """Create the user in Auth and its mirror in Backend, atomically (two-phase)."""
        await self.auth.answer("transaction")
        user_id = self.auth.new_user(fields)
        kept = self._backend_half_kept(user_id, fail, asyncio.get_running_loop().time())
        if fail:
            del self.auth.users[user_id]
        if kept:
            await self.backend.write([self.shadow.rules.insert(user_id, fields, 1)])
        return user_id, not fail

    def _backend_half_kept(self, user_id: str, fail: bool, now: float) -> bool:
        """Whether Backend keeps the user: a committed one unless `half_commit` fires, a
        rolled back one only when `non_atomic_rollback` fires."""
        fault = "non_atomic_rollback" if fail else "half_commit"
        if not self.dice.fires(fault):
            return not fail
        self.truth.fired(fault, user_id, "create", now, 1)
        return fail

    async def outage(self, active: bool) -> None:
        """Start or end a Backend outage; recovery schedules the orphan sweeper."""
        await asyncio.sleep(self.config.backend_latency)
        was_down, self.backend.down = self.backend.down, active
        if was_down and not active:
            loop = asyncio.get_running_loop()
            handles: list[asyncio.TimerHandle] = []
            handles.append(loop.call_later(self.config.sync_delay, self._sweep, handles))
            self._sweeps.add(handles[0])

    @property
    def idle(self) -> bool:
        """Nothing is in flight: no sync event, held update, orphan sweep or Backend write
        is pending."""
        return not self.sync.pending and not self._sweeps and not self.backend.busy

    async def settle(self) -> None:
        """Wait until nothing is in flight (instant on virtual time)."""
        loop = asyncio.get_running_loop()
        while not self.idle:
            if (due := self._last_due()) is not None:
                await asyncio.sleep(due - loop.time())
            else:
                await self.backend.drain()

    def _last_due(self) -> float | None:
        dues = [h.when() for h in self._sweeps]
        if self.sync.last_due is not None:
            dues.append(self.sync.last_due)
        return max(dues, default=None)

    def _sweep(self, handles: list[asyncio.TimerHandle]) -> None:
        self._sweeps.discard(handles[0])
        self.backend.sweep(lambda user_id: user_id not in self.auth.users)

    def _deleting(self, user_id: str) -> None:
        """A user is deleted in Auth: what its create and updates did to Backend is judged
        now, while the probe's view of it is still there (the deletion wipes the evidence)."""
        self.truth.judge([user_id], self.observable)

    def cleanup_started(self, user_ids: list[str]) -> None:
        """Called as a probe starts its cleanup: judge which of its faults are observable."""
        self.truth.cleanup_started(user_ids, self.observable)

    def observable(self, record: FaultRecord) -> bool:
        """Does Backend still differ from Auth the way this fault makes it differ?"""
        uid = record.user_id or ""
        rows = self.shadow.records.get(uid, [])
        auth = self.auth.users.get(uid)
        match record.fault:
            case "auth_errors":
                return True
            case "drop_sync":
                return _drop_observable(record, rows, auth is not None)
            case "duplicate_sync":
                return len(rows) > 1
            case "skip_cascade":
                return not rows and bool(self.shadow.dependents.get(uid))
            case "partial_update" | "clobber_update":
                return auth is not None and any(_damaged(r, record, auth.fields) for r in rows)
            case "reorder_sync":
                return auth is not None and any(r.version < auth.version for r in rows)
            case "half_commit":
                return auth is not None and not rows
            case "non_atomic_rollback" | "no_orphan_sweep":
                return auth is None and bool(rows)
        return False

    def close(self) -> None:
        """Stop every delivery and sweep in flight."""
        self.sync.close()
        for handle in self._sweeps:
            handle.cancel()
        self._sweeps.clear()

    async def aclose(self) -> None:
        """`close`, then close the Backend's storage."""
        self.close()
        await self.backend.close()


def _damaged(row: BackendUser, record: FaultRecord, auth: Fields) -> bool:
    """A field the fault damaged still holds the damaged value (no later write set it),
    and that value is not what Auth has."""
    return any(
        row.written.get(k) == stamp and row.fields.get(k) != auth.get(k)
        for k, stamp in record.damage.items()
    )


def _drop_observable(record: FaultRecord, rows: list[BackendUser], auth_exists: bool) -> bool:
    if record.operation == "create":
        return auth_exists and not rows
    if record.operation == "delete":
        return not auth_exists and bool(rows)
    return auth_exists and any(r.version < record.version for r in rows)
