"""create_sync: a user created in Auth shows up in Backend, equal and once, in time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.probes._convergence import MAX_GAP
from monitor.targets.base import Fields

RunOnce = Callable[..., Any]


class AlteringBackend:
    """Backend that shows a different display name than Auth holds."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get_user(self, user_id: str) -> Fields | None:
        record = await self.inner.get_user(user_id)
        return None if record is None else {**record, "display_name": "someone else"}


def step_names(ran: Any) -> list[str]:
    return [s.name for s in ran.result.steps]


def test_passes_and_measures_the_latency_from_the_auth_ack(run_once: RunOnce) -> None:
    ran = run_once("create_sync", {"sync_delay": 0.5})

    (sync,) = ran.result.syncs
    create = ran.result.steps[0]
    assert ran.result.outcome == "pass"
    assert sync.operation == "create"
    assert sync.acked == create.started + create.seconds
    assert sync.seconds is not None and 0.5 <= sync.seconds <= 0.5 + MAX_GAP


def test_drop_sync_on_create_is_reported_as_missing_and_ends_the_check(
    run_once: RunOnce,
) -> None:
    ran = run_once("create_sync", {"faults": {"drop_sync": {"create": 1}}})

    assert ran.result.kinds == {"missing"}
    assert ran.result.inconsistencies[0].detail == "user not in backend after 5 s"
    assert step_names(ran) == ["auth.create", "backend.wait_create", "auth.delete"]


def test_duplicate_sync_is_reported_as_duplicate_once(run_once: RunOnce) -> None:
    ran = run_once("create_sync", {"faults": {"duplicate_sync": 1}})

    assert [i.kind for i in ran.result.inconsistencies] == ["duplicate"]
    assert "2 backend records" in ran.result.inconsistencies[0].detail


def test_backend_record_with_other_values_is_reported_as_partial(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.backend = AlteringBackend(target.backend)

    ran = run_once("create_sync", target=target)

    assert ran.result.kinds == {"partial"}
    assert "display_name" in ran.result.inconsistencies[0].detail


def test_leaves_no_user_behind(run_once: RunOnce) -> None:
    ran = run_once("create_sync")

    assert ran.world.auth.users == {}
    assert ran.world.backend.records == {}
