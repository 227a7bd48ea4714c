"""The sync pipeline: Auth's outbox delivered to Backend in order, after the sync delay."""

from __future__ import annotations

import asyncio

from monitor.sim.backend import SimBackend
from monitor.sim.faults import FaultDice
from monitor.sim.model import Event
from monitor.sim.truth import GroundTruth

_ORDER_EPSILON = 1e-6  # keeps deliveries strictly ordered when their due times coincide


class SyncPipeline:
    """Delivers each event `sync_delay` (± jitter) after it was emitted, first in first out.

    `reorder_sync` lets one update overtake nothing but be overtaken: it lands
    `reorder_hold` late without holding back the events behind it.
    """

    def __init__(
        self,
        backend: SimBackend,
        *,
        delay: float,
        jitter: float,
        reorder_hold: float,
        dice: FaultDice,
        truth: GroundTruth,
    ) -> None:
        self._backend = backend
        self._delay = delay
        self._jitter = jitter
        self._hold = reorder_hold
        self._dice = dice
        self._truth = truth
        self._last_due = 0.0
        self._pending: set[asyncio.TimerHandle] = set()

    def emit(self, event: Event) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._truth.emitted(event.seq, event.op, event.user_id, event.version, now)
        due = max(now + self._dice.jitter(self._delay, self._jitter), self._last_due + _ORDER_EPSILON)
        if event.op == "update" and self._dice.fires("reorder_sync"):
            self._truth.fired("reorder_sync", event.user_id, "update", now, event.version)
            due += self._hold
        else:
            self._last_due = due
        handle: asyncio.TimerHandle | None = None

        def deliver() -> None:
            assert handle is not None
            self._pending.discard(handle)
            self._backend.apply(event, loop.time())

        handle = loop.call_at(due, deliver)
        self._pending.add(handle)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
