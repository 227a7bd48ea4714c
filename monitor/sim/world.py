"""One simulated deployment: Auth, Backend, the sync pipeline between them, and ground truth."""

from __future__ import annotations

import asyncio
import random

from monitor.config import SimulatorConfig
from monitor.sim.auth import SimAuth
from monitor.sim.backend import SimBackend
from monitor.sim.faults import FaultDice
from monitor.sim.model import BackendUser, Fields
from monitor.sim.sync import SyncPipeline
from monitor.sim.truth import FaultRecord, GroundTruth


class World:
    """Auth and Backend wired together, with transactions, outages and the orphan sweeper."""

    def __init__(self, config: SimulatorConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng or random.Random(config.seed)
        self.dice = FaultDice(config.faults, self.rng)
        self.truth = GroundTruth()
        self.backend = SimBackend(
            latency=config.backend_latency, jitter=0.0, dice=self.dice, truth=self.truth
        )
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
        )
        self._sweeps: set[asyncio.TimerHandle] = set()

    async def transaction(self, fields: Fields, *, fail: bool) -> tuple[str, bool]:
        """Create the user in Auth and its mirror in Backend, atomically (two-phase)."""
        await self.auth.answer("transaction")
        user_id = self.auth.new_user(fields)
        self.backend.insert(user_id, fields, 1)
        now = asyncio.get_running_loop().time()
        if fail:
            self._roll_back(user_id, now)
            return user_id, False
        if self.dice.fires("half_commit"):
            self.truth.fired("half_commit", user_id, "create", now, 1)
            self.backend.remove(user_id)
        return user_id, True

    def _roll_back(self, user_id: str, now: float) -> None:
        del self.auth.users[user_id]
        if self.dice.fires("non_atomic_rollback"):
            self.truth.fired("non_atomic_rollback", user_id, "create", now, 1)
        else:
            self.backend.remove(user_id)

    async def outage(self, active: bool) -> None:
        """Start or end a Backend outage; recovery schedules the orphan sweeper."""
        await asyncio.sleep(self.config.backend_latency)
        was_down, self.backend.down = self.backend.down, active
        if was_down and not active:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(self.config.sync_delay, self._sweep)
            self._sweeps.add(handle)

    def _sweep(self) -> None:
        self._sweeps.clear()
        now = asyncio.get_running_loop().time()
        orphans = [uid for uid in self.backend.records if uid not in self.auth.users]
        if not orphans:
            return
        if self.dice.fires("no_orphan_sweep"):
            for uid in orphans:
                self.truth.fired("no_orphan_sweep", uid, "delete", now)
            return
        for uid in orphans:
            self.backend.remove(uid)

    def cleanup_started(self, user_ids: list[str]) -> None:
        """Called as a probe starts its cleanup: judge which of its faults are observable."""
        self.truth.cleanup_started(user_ids, self.observable)

    def observable(self, record: FaultRecord) -> bool:
        """Does Backend still differ from Auth the way this fault makes it differ?"""
        uid = record.user_id or ""
        rows = self.backend.records.get(uid, [])
        auth = self.auth.users.get(uid)
        match record.fault:
            case "auth_errors":
                return True
            case "drop_sync":
                return _drop_observable(record, rows, auth is not None)
            case "duplicate_sync":
                return len(rows) > 1
            case "skip_cascade":
                return not rows and bool(self.backend.dependents.get(uid))
            case "partial_update" | "clobber_update":
                return any(r.version == record.version for r in rows) and auth is not None and any(
                    _differs(r.fields, auth.fields) for r in rows if r.version == record.version
                )
            case "reorder_sync":
                return auth is not None and any(r.version < auth.version for r in rows)
            case "half_commit":
                return auth is not None and not rows
            case "non_atomic_rollback" | "no_orphan_sweep":
                return auth is None and bool(rows)
        return False

    def close(self) -> None:
        self.sync.close()
        for handle in self._sweeps:
            handle.cancel()


def _differs(backend: Fields, auth: Fields) -> bool:
    return any(backend.get(k) != v for k, v in auth.items())


def _drop_observable(record: FaultRecord, rows: list[BackendUser], auth_exists: bool) -> bool:
    if record.operation == "create":
        return auth_exists and not rows
    if record.operation == "delete":
        return not auth_exists and bool(rows)
    return auth_exists and any(r.version < record.version for r in rows)
