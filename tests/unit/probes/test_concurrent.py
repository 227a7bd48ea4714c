"""concurrent: five users created at once all reach Backend, each exactly once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from monitor.probes.concurrent import USERS
from monitor.targets.base import TargetError, Throttled

RunOnce = Callable[..., Any]


class RefusingAuth:
    """Auth that refuses its first `times` creates with `error`."""

    def __init__(self, inner: Any, times: int, error: Exception) -> None:
        self.inner = inner
        self.left = times
        self.error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create(self, fields: Mapping[str, str]) -> str:
        if self.left:
            self.left -= 1
            raise self.error
        created: str = await self.inner.create(fields)
        return created


def refusing(sim_target: Callable[..., Any], times: int, error: Exception) -> Any:
    target = sim_target()
    target.auth.inner = RefusingAuth(target.auth.inner, times, error)
    return target


def test_every_user_is_waited_for(run_once: RunOnce) -> None:
    ran = run_once("concurrent")

    assert ran.result.outcome == "pass"
    assert [s.operation for s in ran.result.syncs] == ["create"] * USERS


def test_one_throttled_create_is_tolerated(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    ran = run_once("concurrent", target=refusing(sim_target, 1, Throttled("429 slow down")))

    assert ran.result.outcome == "pass"
    assert len(ran.result.syncs) == USERS - 1


def test_too_many_throttled_creates_are_an_error(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    ran = run_once("concurrent", target=refusing(sim_target, 2, Throttled("429 slow down")))

    assert ran.result.outcome == "error"
    assert ran.result.error == f"auth accepted only {USERS - 2} of {USERS} concurrent creates"
    assert ran.world.auth.users == {}


def test_a_failed_create_is_an_error_naming_the_call(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    ran = run_once("concurrent", target=refusing(sim_target, 1, TargetError("503 down")))

    assert ran.result.outcome == "error"
    assert ran.result.error == "auth.create: 503 down"
    assert ran.world.auth.users == {}


def test_each_dropped_create_is_reported_as_missing(run_once: RunOnce) -> None:
    ran = run_once("concurrent", {"faults": {"drop_sync": {"create": 1}}})

    assert [i.kind for i in ran.result.inconsistencies] == ["missing"] * USERS
