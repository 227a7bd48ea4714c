"""orphan_cleanup: after a Backend outage during a deletion, the orphan is gone after recovery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.targets.base import TargetError

RunOnce = Callable[..., Any]


class FailingDeleteAuth:
    """Auth whose first delete fails."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def delete(self, user_id: str) -> None:
        if not self.failed:
            self.failed = True
            raise TargetError("500 delete failed")
        await self.inner.delete(user_id)


def test_the_sweeper_removes_the_orphan_after_recovery(run_once: RunOnce) -> None:
    ran = run_once("orphan_cleanup", {"sync_delay": 0.3})

    delete = ran.result.syncs[-1]
    assert ran.result.outcome == "pass"
    assert delete.operation == "delete"
    assert delete.seconds is not None and delete.seconds >= 0.3
    assert ran.world.backend.records == {}


def test_no_orphan_sweep_is_reported_as_orphan(run_once: RunOnce) -> None:
    ran = run_once("orphan_cleanup", {"faults": {"no_orphan_sweep": 1}})

    assert ran.result.kinds == {"orphan"}


def test_the_outage_ends_even_when_the_deletion_fails(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.auth.inner = FailingDeleteAuth(target.auth.inner)

    ran = run_once("orphan_cleanup", target=target)

    assert ran.result.outcome == "error"
    assert ran.result.error == "auth.delete: 500 delete failed"
    assert not ran.world.backend.down
    assert ran.world.auth.users == {}
