"""The simulated Backend in memory: a mirror of Auth's users plus dependents, fed by a
sync pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from monitor.sim.faults import FaultDice
from monitor.sim.model import BackendUser, Event, Fields, NotFoundError, Unavailable
from monitor.sim.plan import Held, Insert, Rules, Update, Write
from monitor.sim.truth import GroundTruth


class SimBackend:
    """Users by auth id (a list, so a duplicated create is visible) and their dependents.

    It is also ground truth's view of Backend: each row's `version` and per-field write
    stamps, which `World.observable` reads (PostgreSQL keeps one as its shadow).
    """

    def __init__(
        self, *, latency: float, jitter: float, dice: FaultDice, truth: GroundTruth
    ) -> None:
        self.records: dict[str, list[BackendUser]] = {}
        self.dependents: dict[str, list[str]] = {}
        self.down = False
        self.rules = Rules(dice, truth)
        self._latency = latency
        self._jitter = jitter
        self._dice = dice
        self._truth = truth

    async def answer(self) -> None:
        """Wait out the latency; Unavailable during an outage."""
        if self._latency or self._jitter:
            await asyncio.sleep(self._dice.jitter(self._latency, self._jitter))
        if self.down:
            raise Unavailable("backend unavailable (outage)")

    async def get_user(self, user_id: str) -> Fields | None:
        await self.answer()
        rows = self.records.get(user_id)
        return dict(rows[0].fields) if rows else None

    async def count_users(self, user_id: str) -> int:
        await self.answer()
        return len(self.records.get(user_id, ()))

    async def get_dependents(self, user_id: str) -> int:
        await self.answer()
        return len(self.dependents.get(user_id, ()))

    async def create_dependent(self, user_id: str, token: str) -> None:
        await self.answer()
        if user_id not in self.records:
            raise NotFoundError(f"no user {user_id}")
        self.dependents.setdefault(user_id, []).append(token)

    async def delete_user(self, user_id: str) -> None:
        await self.answer()
        self.remove(user_id)

    async def list_ids(self) -> list[str]:
        await self.answer()
        return list(self.records)

    def remove(self, user_id: str, *, keep_dependents: bool = False) -> None:
        self.records.pop(user_id, None)
        if not keep_dependents:
            self.dependents.pop(user_id, None)

    def insert(self, user_id: str, fields: Fields, version: int) -> None:
        self.commit([self.rules.insert(user_id, fields, version)])

    def held(self, user_id: str) -> Held:
        rows = self.records.get(user_id)
        written = dict(rows[0].written) if rows else {}
        return Held(len(rows or ()), len(self.dependents.get(user_id, ())), written)

    def commit(self, writes: Sequence[Write]) -> None:
        """Carry out planned writes in memory."""
        for w in writes:
            if isinstance(w, Insert):
                row = BackendUser(dict(w.fields), w.version, dict.fromkeys(w.fields, w.stamp))
                self.records.setdefault(w.user_id, []).append(row)
            elif isinstance(w, Update):
                for row in self.records.get(w.user_id, ()):
                    row.fields.update(w.changes)
                    row.written.update(dict.fromkeys(w.changes, w.stamp))
                    row.version = w.version
            else:
                self.remove(w.user_id, keep_dependents=w.keep_dependents)

    def apply(self, event: Event, now: float, *, faults: bool = True) -> None:
        """Apply one change event now, with whatever faults fire on it."""
        if self.down or self.rules.dropped(event, now, faults=faults):
            return  # during an outage delivery fails; the orphan sweeper is the remedy
        self.commit(self.rules.plan(event, self.held(event.user_id), now, faults=faults))
        self._truth.visible(event.seq, now)

    def sweep(self, orphaned: Callable[[str], bool]) -> None:
        now = asyncio.get_running_loop().time()
        removals = self.rules.sweep([uid for uid in self.records if orphaned(uid)], now)
        self.commit(removals)
        for removal in removals:
            self._truth.swept(removal.user_id, now)

    async def write(self, writes: Sequence[Write]) -> None:
        self.commit(writes)

    @property
    def busy(self) -> bool:
        return False  # every write is carried out as it is submitted

    async def drain(self) -> None:
        return None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None
