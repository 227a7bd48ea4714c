"""The sync pipeline: Auth's outbox delivered to Backend in order, after the sync delay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from monitor.sim.faults import FaultDice
from monitor.sim.model import Event
from monitor.sim.storage import Storage
from monitor.sim.truth import GroundTruth

_ORDER_EPSILON = 1e-6  # keeps deliveries strictly ordered when their due times coincide


class SyncPipeline:
    """Delivers each event `sync_delay` (± jitter) after it was emitted, first in first out.

    An event emitted while Backend is down is lost (the orphan sweeper is the remedy).
    Delivering hands the event to the Backend's storage, which applies deliveries in
    the order they were made (in memory at once, in PostgreSQL one after another).
    `reorder_sync` holds an update back until the next change of the same user has
    been applied, then applies it: an older update lands after a newer one. With no
    newer change within `reorder_hold`, the held update is merely late. A held update
    suffers no other fault when it lands.
    """

    def __init__(
        self,
        backend: Storage,
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
        self._held: dict[str, tuple[Event, asyncio.TimerHandle]] = {}

    def emit(self, event: Event) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._truth.emitted(event.seq, event.op, event.user_id, event.version, now)
        if self._backend.down:
            return
        delay = self._dice.jitter(self._delay, self._jitter)
        due = max(now + delay, self._last_due + _ORDER_EPSILON)
        self._last_due = due
        self._later(due, lambda: self._deliver(event))

    def _later(self, due: float, action: Callable[[], None]) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        handles: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._pending.discard(handles[0])
            action()

        handles.append(loop.call_at(due, fire))
        self._pending.add(handles[0])
        return handles[0]

    def _deliver(self, event: Event) -> None:
        now = asyncio.get_running_loop().time()
        if self._should_hold(event):
            self._truth.fired("reorder_sync", event.user_id, "update", now, event.version)
            handle = self._later(now + self._hold, lambda: self._release(event.user_id))
            self._held[event.user_id] = (event, handle)
            return
        self._backend.apply(event, now)
        if event.user_id in self._held:
            _, handle = self._held[event.user_id]
            handle.cancel()
            self._pending.discard(handle)
            self._release(event.user_id)

    def _should_hold(self, event: Event) -> bool:
        return (
            event.op == "update"
            and event.user_id not in self._held
            and self._dice.fires("reorder_sync")
        )

    def _release(self, user_id: str) -> None:
        held = self._held.pop(user_id, None)
        if held is not None:
            # the reorder was this event's fault: it lands whole, so what Backend then
            # shows (an older version) is the reorder's doing alone
            self._backend.apply(held[0], asyncio.get_running_loop().time(), faults=False)

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def last_due(self) -> float | None:
        """When the last delivery or release in flight is due (None: nothing in flight)."""
        return max((h.when() for h in self._pending), default=None)

    def close(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        self._held.clear()
