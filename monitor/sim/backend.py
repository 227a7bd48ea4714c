"""The simulated Backend: a mirror of Auth's users plus dependents, fed by a sync pipeline."""

from __future__ import annotations

import asyncio
import itertools

from monitor.sim.faults import FaultDice
from monitor.sim.model import (
    FIELD_DEFAULTS,
    BackendUser,
    Event,
    Fields,
    NotFoundError,
    Unavailable,
)
from monitor.sim.truth import GroundTruth


class SimBackend:
    """Users by auth id (a list, so a duplicated create is visible) and their dependents."""

    def __init__(
        self, *, latency: float, jitter: float, dice: FaultDice, truth: GroundTruth
    ) -> None:
        self.records: dict[str, list[BackendUser]] = {}
        self.dependents: dict[str, list[str]] = {}
        self.down = False
        self._latency = latency
        self._jitter = jitter
        self._dice = dice
        self._truth = truth
        self._stamp = itertools.count(1)  # orders writes: ground truth tells what a write undid

    async def _answer(self) -> None:
        if self._latency or self._jitter:
            await asyncio.sleep(self._dice.jitter(self._latency, self._jitter))
        if self.down:
            raise Unavailable("backend unavailable (outage)")

    async def get_user(self, user_id: str) -> Fields | None:
        await self._answer()
        rows = self.records.get(user_id)
        return dict(rows[0].fields) if rows else None

    async def count_users(self, user_id: str) -> int:
        await self._answer()
        return len(self.records.get(user_id, ()))

    async def get_dependents(self, user_id: str) -> int:
        await self._answer()
        return len(self.dependents.get(user_id, ()))

    async def create_dependent(self, user_id: str, token: str) -> None:
        await self._answer()
        if user_id not in self.records:
            raise NotFoundError(f"no user {user_id}")
        self.dependents.setdefault(user_id, []).append(token)

    async def delete_user(self, user_id: str) -> None:
        await self._answer()
        self.remove(user_id)

    async def list_ids(self) -> list[str]:
        await self._answer()
        return list(self.records)

    def remove(self, user_id: str, *, keep_dependents: bool = False) -> None:
        self.records.pop(user_id, None)
        if not keep_dependents:
            self.dependents.pop(user_id, None)

    def insert(self, user_id: str, fields: Fields, version: int) -> None:
        stamp = next(self._stamp)
        row = BackendUser(dict(fields), version, dict.fromkeys(fields, stamp))
        self.records.setdefault(user_id, []).append(row)

    def apply(self, event: Event, now: float, *, faults: bool = True) -> None:
        """Apply one change event, with whatever faults fire on it (none when `faults` is
        False: an event that already suffered one, such as a reordered update)."""
        if self.down:
            return  # delivery failed during the outage; the orphan sweeper is the remedy
        if faults and self._dice.fires("drop_sync", event.op):
            self._truth.fired("drop_sync", event.user_id, event.op, now, event.version)
            return
        getattr(self, f"_apply_{event.op}")(event, now, faults)
        self._truth.visible(event.seq, now)

    def _apply_create(self, event: Event, now: float, faults: bool) -> None:
        if event.user_id in self.records:
            return  # redelivered create of a known user: idempotent by auth id
        self.insert(event.user_id, event.fields, event.version)
        if faults and self._dice.fires("duplicate_sync"):
            self._truth.fired("duplicate_sync", event.user_id, "create", now, event.version)
            self.insert(event.user_id, event.fields, event.version)

    def _apply_update(self, event: Event, now: float, faults: bool) -> None:
        rows = self.records.get(event.user_id)
        if not rows:
            return
        stamp = next(self._stamp)
        changes = dict(event.fields)
        if faults and len(changes) > 1 and self._dice.fires("partial_update"):
            first = next(iter(changes))
            skipped = {k: rows[0].written.get(k, 0) for k in changes if k != first}
            self._fired("partial_update", event, now, skipped)
            changes = {first: changes[first]}
        if faults and self._dice.fires("clobber_update"):
            reset = {k: v for k, v in FIELD_DEFAULTS.items() if k not in changes}
            self._fired("clobber_update", event, now, dict.fromkeys(reset, stamp))
            changes = {**reset, **changes}
        for row in rows:
            row.fields.update(changes)
            row.written.update(dict.fromkeys(changes, stamp))
            row.version = event.version

    def _fired(self, fault: str, event: Event, now: float, damage: dict[str, int]) -> None:
        """Record an update fault with the fields it damaged and the stamp they carry."""
        self._truth.fired(fault, event.user_id, "update", now, event.version, damage)

    def _apply_delete(self, event: Event, now: float, faults: bool) -> None:
        has_dependents = bool(self.dependents.get(event.user_id))
        skip = faults and has_dependents and self._dice.fires("skip_cascade")
        if skip:
            self._truth.fired("skip_cascade", event.user_id, "delete", now, event.version)
        self.remove(event.user_id, keep_dependents=skip)
