"""Adapter onto the in-process simulator: the embedded default target."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from monitor.clock import Clock
from monitor.config import TargetConfig
from monitor.ledger import Ledger
from monitor.sim.model import FIELDS, ConflictError, Fields, NotFoundError, SimError
from monitor.sim.world import World
from monitor.targets.base import (
    AUTH_CALLS,
    BACKEND_CALLS,
    AlreadyExists,
    GuardedAuth,
    NotFound,
    Target,
    TargetError,
    TxnOutcome,
    synthetic_pattern,
)

T = TypeVar("T")
# Ground truth serves only the judging of runs by tests and benchmarks: an in-process
# world built for them keeps the most recent records, enough to judge recent runs and
# flat in memory; the monitor's own (`build_target`) keeps none, as nothing reads it.
EMBEDDED_TRUTH_LIMIT = 500


async def _mapped(call: Awaitable[T]) -> T:
    """Simulator errors become the adapter errors probes understand."""
    try:
        return await call
    except ConflictError as exc:
        raise AlreadyExists(str(exc)) from None
    except NotFoundError as exc:
        raise NotFound(str(exc)) from None
    except SimError as exc:
        raise TargetError(f"{exc.status} {exc}") from None


class SimAuthSide:
    calls = AUTH_CALLS

    def __init__(self, world: World) -> None:
        self._world = world

    async def create(self, fields: Mapping[str, str]) -> str:
        return await _mapped(self._world.auth.create(dict(fields)))

    async def get(self, user_id: str) -> Fields | None:
        return await _mapped(self._world.auth.get(user_id))

    async def update(self, user_id: str, changes: Mapping[str, str]) -> None:
        await _mapped(self._world.auth.update(user_id, dict(changes)))

    async def delete(self, user_id: str) -> None:
        await _mapped(self._world.auth.delete(user_id))

    async def list(self, email_suffix: str) -> list[tuple[str, str]]:
        return await _mapped(self._world.auth.list(email_suffix))

    async def transaction(self, fields: Mapping[str, str], *, fail: bool) -> TxnOutcome:
        user_id, committed = await _mapped(self._world.transaction(dict(fields), fail=fail))
        return TxnOutcome(user_id, committed)

    async def close(self) -> None:
        self._world.close()


class SimBackendSide:
    calls = BACKEND_CALLS
    fields = FIELDS

    def __init__(self, world: World) -> None:
        self._world = world

    async def get_user(self, user_id: str) -> Fields | None:
        return await _mapped(self._world.backend.get_user(user_id))

    async def count_users(self, user_id: str) -> int:
        return await _mapped(self._world.backend.count_users(user_id))

    async def get_dependents(self, user_id: str) -> int:
        return await _mapped(self._world.backend.get_dependents(user_id))

    async def create_dependent(self, user_id: str, token: str) -> None:
        await _mapped(self._world.backend.create_dependent(user_id, token))

    async def delete_user(self, user_id: str) -> None:
        await _mapped(self._world.backend.delete_user(user_id))

    async def outage(self, active: bool) -> None:
        await _mapped(self._world.outage(active))

    async def close(self) -> None:
        self._world.close()


def simulator_target(
    config: TargetConfig,
    *,
    clock: Clock,
    world: World | None = None,
    truth_limit: int = EMBEDDED_TRUTH_LIMIT,
) -> Target:
    """A target backed by a fresh in-process world (or the one given, for tests) keeping
    `truth_limit` records of ground truth."""
    assert config.simulator is not None
    world = world or World(config.simulator, truth_limit=truth_limit)
    return Target(
        name=config.name,
        auth=GuardedAuth(
            SimAuthSide(world),
            target=config.name,
            domain=config.synthetic_domain,
            ledger=Ledger.disabled(),
        ),
        backend=SimBackendSide(world),
        clock=clock,
        rng=random.Random(world.rng.getrandbits(64)),
        domain=config.synthetic_domain,
        max_concurrency=config.max_concurrency,
        on_cleanup=world.cleanup_started,
        state={"world": world},
    )


def tagged_users_in_auth(target: Target) -> int | None:
    """How many tagged users a simulator target's Auth holds now; None for real targets."""
    world = target.state.get("world")
    if not isinstance(world, World):
        return None
    tagged = synthetic_pattern(target.domain).match
    return sum(bool(tagged(u.fields["email"])) for u in world.auth.users.values())
