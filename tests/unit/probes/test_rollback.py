"""rollback: a transaction forced to fail midway leaves nothing on either side."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from monitor.targets.base import TxnOutcome

RunOnce = Callable[..., Any]


class FaultyRollbackAuth:
    """Auth whose failed transactions commit (`commits`) or keep the Auth user."""

    def __init__(self, inner: Any, world: Any, *, commits: bool) -> None:
        self.inner = inner
        self.world = world
        self.commits = commits

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def transaction(self, fields: Mapping[str, str], *, fail: bool) -> TxnOutcome:
        if self.commits:
            outcome: TxnOutcome = await self.inner.transaction(fields, fail=False)
            return outcome
        return TxnOutcome(self.world.auth.new_user(dict(fields)), committed=False)


def test_passes_when_the_failed_transaction_left_nothing(run_once: RunOnce) -> None:
    ran = run_once("rollback")

    assert ran.result.outcome == "pass"
    assert ran.world.backend.records == {}


def test_non_atomic_rollback_is_reported_as_rollback(run_once: RunOnce) -> None:
    ran = run_once("rollback", {"faults": {"non_atomic_rollback": 1}})

    (rollback,) = ran.result.inconsistencies
    assert rollback.kind == "rollback"
    assert rollback.detail.startswith("backend kept its half of a rolled-back transaction")


def test_a_transaction_told_to_fail_that_commits_is_reported_as_rollback(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.auth.inner = FaultyRollbackAuth(target.auth.inner, target.state["world"], commits=True)

    ran = run_once("rollback", target=target)

    assert ran.result.kinds == {"rollback"}
    assert "committed instead" in ran.result.inconsistencies[0].detail
    assert ran.world.auth.users == {}


def test_auth_keeping_the_user_of_a_failed_transaction_is_reported_as_rollback(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.auth.inner = FaultyRollbackAuth(target.auth.inner, target.state["world"], commits=False)

    ran = run_once("rollback", target=target)

    assert ran.result.kinds == {"rollback"}
    assert "auth kept the user" in ran.result.inconsistencies[0].detail
    assert ran.world.auth.users == {}
