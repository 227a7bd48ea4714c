"""duplicate: creating the same user twice is rejected or idempotent; Backend holds one record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from monitor.targets.base import AlreadyExists

RunOnce = Callable[..., Any]


class LaxAuth:
    """Auth that accepts a second user with an email it already has."""

    def __init__(self, inner: Any, world: Any) -> None:
        self.inner = inner
        self.world = world

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create(self, fields: Mapping[str, str]) -> str:
        try:
            created: str = await self.inner.create(fields)
        except AlreadyExists:
            twin = {**fields, "email": f"twin-{fields['email']}"}
            created = self.world.auth.new_user(twin)
            self.world.auth.users[created].fields["email"] = fields["email"]
        return created


class LateDuplicatingBackend:
    """Backend that counts one record at first and two from the second count on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.counts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def count_users(self, user_id: str) -> int:
        self.counts += 1
        return 1 if self.counts == 1 else 2


def test_a_rejected_second_create_passes(run_once: RunOnce) -> None:
    ran = run_once("duplicate")

    assert ran.result.outcome == "pass"
    assert [s.name for s in ran.result.steps][:2] == ["auth.create", "auth.create"]


def test_auth_accepting_a_second_user_with_the_same_email_is_duplicate(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.auth.inner = LaxAuth(target.auth.inner, target.state["world"])

    ran = run_once("duplicate", target=target)

    assert ran.result.kinds == {"duplicate"}
    assert "auth accepted a second user" in ran.result.inconsistencies[0].detail
    assert ran.world.auth.users == {}


def test_duplicate_sync_is_reported_as_duplicate_once(run_once: RunOnce) -> None:
    ran = run_once("duplicate", {"faults": {"duplicate_sync": 1}})

    assert [i.kind for i in ran.result.inconsistencies] == ["duplicate"]


def test_a_second_backend_record_appearing_later_is_duplicate(
    run_once: RunOnce, sim_target: Callable[..., Any]
) -> None:
    target = sim_target()
    target.backend = LateDuplicatingBackend(target.backend)

    ran = run_once("duplicate", target=target)

    (duplicate,) = ran.result.inconsistencies
    assert duplicate.kind == "duplicate"
    assert duplicate.detail == "2 backend records for one auth user"
