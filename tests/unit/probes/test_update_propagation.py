"""update_propagation: an update reaches Backend in time; of two quick updates the last wins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.targets.base import Fields

RunOnce = Callable[..., Any]


class RevertingBackend:
    """Backend that, once it has shown the newest update, shows the older one again."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.shown_newer = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get_user(self, user_id: str) -> Fields | None:
        record = await self.inner.get_user(user_id)
        if record is None or record.get("profile.theme") != "newer":
            return record
        if not self.shown_newer:
            self.shown_newer = True
            return record
        return {**record, "profile.theme": "older"}


def auth_updates(ran: Any) -> int:
    return sum(s.name == "auth.update" for s in ran.result.steps)


def test_passes_with_three_updates_each_seen_in_backend(run_once: RunOnce) -> None:
    ran = run_once("update_propagation")

    assert ran.result.outcome == "pass"
    assert auth_updates(ran) == 3
    assert [s.operation for s in ran.result.syncs] == ["create", "update", "update"]


def test_drop_sync_on_update_is_reported_as_stale_and_stops_later_updates(
    run_once: RunOnce,
) -> None:
    ran = run_once("update_propagation", {"faults": {"drop_sync": {"update": 1}}})

    assert ran.result.kinds == {"stale"}
    assert "display_name" in ran.result.inconsistencies[0].detail
    assert auth_updates(ran) == 1


def test_an_older_update_landing_after_the_newer_is_reported_as_stale(
    run_once: RunOnce,
) -> None:
    ran = run_once("update_propagation", {"faults": {"reorder_sync": 1}})

    (stale,) = ran.result.inconsistencies
    assert stale.kind == "stale"
    assert "display_name, profile.theme" in stale.detail


def test_an_older_update_overwriting_the_newer_soon_after_is_reported_as_stale(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.backend = RevertingBackend(target.backend)

    ran = run_once("update_propagation", target=target)

    (stale,) = ran.result.inconsistencies
    assert stale.kind == "stale"
    assert stale.detail == "an older update overwrote the newer one in profile.theme"


def test_a_partly_applied_two_field_update_is_reported_as_partial(run_once: RunOnce) -> None:
    ran = run_once("update_propagation", {"faults": {"partial_update": 1}})

    (partial,) = ran.result.inconsistencies
    assert partial.kind == "partial"
    assert partial.detail.endswith(": profile.theme")
