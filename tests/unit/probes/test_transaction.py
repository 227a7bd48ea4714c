"""transaction: a cross-service transaction commits on both sides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from monitor.targets.base import TxnOutcome

RunOnce = Callable[..., Any]


class UncommittingAuth:
    """Auth whose transactions roll back although told to commit."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def transaction(self, fields: Mapping[str, str], *, fail: bool) -> TxnOutcome:
        outcome: TxnOutcome = await self.inner.transaction(fields, fail=True)
        return outcome


def test_a_committed_transaction_is_visible_at_once(run_once: RunOnce) -> None:
    ran = run_once("transaction")

    (sync,) = ran.result.syncs
    assert ran.result.outcome == "pass"
    assert (sync.seconds, sync.reads) == (0.0, 1)


def test_half_commit_is_reported_as_missing(run_once: RunOnce) -> None:
    ran = run_once("transaction", {"faults": {"half_commit": 1}})

    assert ran.result.kinds == {"missing"}


def test_a_transaction_that_did_not_commit_is_an_error(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.auth.inner = UncommittingAuth(target.auth.inner)

    ran = run_once("transaction", target=target)

    assert ran.result.outcome == "error"
    assert ran.result.error == "auth.transaction: the transaction was not committed"
