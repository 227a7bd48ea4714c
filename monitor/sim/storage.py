"""Where the simulated Backend keeps its users and dependents: in memory (`SimBackend`) or
in PostgreSQL (`PgBackend`). The world, the sync pipeline and the Backend service use
only what is named here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from monitor.sim.model import Event, Fields
from monitor.sim.plan import Write


class BackendStore(Protocol):
    """What the Backend service reads and writes."""

    async def get_user(self, user_id: str) -> Fields | None: ...
    async def count_users(self, user_id: str) -> int: ...
    async def get_dependents(self, user_id: str) -> int: ...
    async def create_dependent(self, user_id: str, token: str) -> None: ...
    async def delete_user(self, user_id: str) -> None: ...


class Storage(BackendStore, Protocol):
    """A Backend storage: the service's calls plus the simulator's own writes.

    Writes of the sync pipeline and the sweeper are submitted (`apply`, `sweep`) and
    carried out one at a time in submission order: at once in memory, by a worker in
    PostgreSQL; `busy` says some are still to be carried out, `drain` waits for them.
    """

    down: bool  # an outage: the service answers 503 and deliveries are lost

    def apply(self, event: Event, now: float, *, faults: bool = True) -> None:
        """Deliver one change event (`faults` False: it already suffered one)."""

    def sweep(self, orphaned: Callable[[str], bool]) -> None:
        """Remove the users `orphaned` says Auth no longer has (the orphan sweeper)."""

    async def write(self, writes: Sequence[Write]) -> None:
        """Carry out these writes at once, atomically (a transaction's Backend half)."""

    @property
    def busy(self) -> bool: ...

    async def drain(self) -> None: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...
