"""The naive baseline: the probes' operations, each waited for by reading Backend every 100 ms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from monitor.results import Sync
from monitor.targets.base import Fields, Target

T = TypeVar("T")

INTERVAL = 0.1
GIVE_UP = 5.0

# the syncs each probe of the plan reports, in order, so both sides score the same mix
SCENARIOS: dict[str, tuple[str, ...]] = {
    "create_sync": ("create",),
    "update_propagation": ("create", "update", "update"),
    "delete_cascade": ("create", "delete"),
    "partial_update": ("create", "update"),
}


async def poll(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    op: str,
    acked: float,
    target: Target,
) -> Sync:
    """Read at the ack, then every INTERVAL, until `done`; timed like the probes' waits."""
    clock, reads = target.clock, 0
    while True:
        started = clock.monotonic()
        value = await read()
        reads += 1
        if done(value):
            return Sync(op, started - acked, reads, acked)
        if started + INTERVAL - acked > GIVE_UP:
            return Sync(op, None, reads, acked)
        await clock.sleep(INTERVAL)


class NaiveUser:
    """One synthetic user taken through a scenario, each change waited for by `poll`."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.id: str | None = None

    async def run(self, scenario: str) -> list[Sync]:
        try:
            return [await getattr(self, op)() for op in SCENARIOS[scenario]]
        finally:
            if self.id is not None:
                await self.target.auth.delete(self.id)

    async def create(self) -> Sync:
        user_id = await self.target.auth.create({"email": self.target.new_email()})
        self.id = user_id
        return await self._wait("create", user_id, lambda r: r is not None)

    async def update(self) -> Sync:
        assert self.id is not None
        value = f"naive-{self.target.rng.getrandbits(32):08x}"
        await self.target.auth.update(self.id, {"display_name": value})
        return await self._wait(
            "update", self.id, lambda r: r is not None and r.get("display_name") == value
        )

    async def delete(self) -> Sync:
        assert self.id is not None
        user_id, self.id = self.id, None
        await self.target.auth.delete(user_id)
        return await self._wait("delete", user_id, lambda r: r is None)

    async def _wait(self, op: str, user_id: str, done: Callable[[Fields | None], bool]) -> Sync:
        acked = self.target.clock.monotonic()
        read = partial(self.target.backend.get_user, user_id)
        return await poll(read, done, op=op, acked=acked, target=self.target)
