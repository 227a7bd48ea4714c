"""The synthetic guard: the monitor touches only the users it tagged, and leaves none behind."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from monitor.config import SimulatorConfig
from monitor.ledger import Ledger
from monitor.probes import PROBE_NAMES
from monitor.runner import run_probe
from monitor.settings import ProbeSettings
from monitor.sim.world import World
from monitor.targets.base import (
    AlreadyExists,
    GuardedAuth,
    NotFound,
    Target,
    UntaggedRecord,
    synthetic_email,
    synthetic_pattern,
)
from monitor.targets.simulator import SimAuthSide
from monitor.vtime import run_virtual

DOMAIN = "consistency-monitor.invalid"
ALICE = {"email": "alice@example.com", "display_name": "Alice", "profile.city": "Oslo"}
EVERY_FAULT = {
    "drop_sync": 0.3, "duplicate_sync": 0.3, "skip_cascade": 0.3, "partial_update": 0.3,
    "clobber_update": 0.3, "reorder_sync": 0.3, "half_commit": 0.3,
    "non_atomic_rollback": 0.3, "no_orphan_sweep": 0.3, "auth_errors": 0.3,
}  # fmt: skip


def tagged(n: int = 1) -> dict[str, str]:
    return {"email": synthetic_email(DOMAIN, 1_790_000_000, random.Random(n)), "display_name": "P"}


def guarded(tmp_path: Path, world: World | None = None) -> tuple[GuardedAuth, World, Ledger]:
    world = world or World(SimulatorConfig(seed=1))
    ledger = Ledger(tmp_path / "ledger.sqlite")
    return GuardedAuth(SimAuthSide(world), target="t", domain=DOMAIN, ledger=ledger), world, ledger


def with_alice(world: World) -> str:
    """A real user, created in Auth and mirrored in Backend without the monitor."""
    uid = world.auth.new_user(dict(ALICE))
    world.backend.insert(uid, dict(ALICE), 1)
    return uid


def test_the_tag_names_the_domain_and_the_creation_second() -> None:
    email = synthetic_email(DOMAIN, 1_790_000_000.7, random.Random(1))

    match = synthetic_pattern(DOMAIN).match(email)

    assert match is not None and match.group(1) == "1790000000"


@pytest.mark.parametrize(
    "email",
    [
        "alice@example.com",
        f"alice@{DOMAIN}",
        "probe-1790000000-abc@example.com",
        f"probe-1790000000-abc@{DOMAIN}.example.com",
        f"x-probe-1790000000-abc@{DOMAIN}",
    ],
)
def test_an_email_is_synthetic_only_with_the_exact_tag(tmp_path: Path, email: str) -> None:
    auth, _, _ = guarded(tmp_path)

    assert not auth.is_synthetic(email)


def test_refuses_to_update_an_untagged_user_and_leaves_it_unchanged(tmp_path: Path) -> None:
    auth, world, _ = guarded(tmp_path)
    uid = world.auth.new_user(dict(ALICE))

    with pytest.raises(UntaggedRecord):
        run_virtual(auth.update(uid, {"display_name": "Mallory"}))

    assert world.auth.users[uid].fields == ALICE
    assert world.auth.users[uid].version == 1
    assert world.truth.changes == {}


def test_refuses_to_delete_an_untagged_user_and_leaves_it_unchanged(tmp_path: Path) -> None:
    auth, world, _ = guarded(tmp_path)
    uid = world.auth.new_user(dict(ALICE))

    with pytest.raises(UntaggedRecord):
        run_virtual(auth.delete(uid))

    assert world.auth.users[uid].fields == ALICE
    assert world.truth.changes == {}


def test_refuses_to_create_an_untagged_user(tmp_path: Path) -> None:
    auth, world, ledger = guarded(tmp_path)

    with pytest.raises(UntaggedRecord):
        run_virtual(auth.create(dict(ALICE)))
    with pytest.raises(UntaggedRecord):
        run_virtual(auth.transaction(dict(ALICE), fail=False))

    assert world.auth.users == {}
    assert ledger.entries("t") == []


def test_a_tagged_user_is_ledgered_from_creation_until_deletion(tmp_path: Path) -> None:
    auth, _, ledger = guarded(tmp_path)

    uid = run_virtual(auth.create(tagged()))
    (entry,) = ledger.entries("t")
    run_virtual(auth.delete(uid))

    assert (entry.user_id, entry.email) == (uid, tagged()["email"])
    assert ledger.entries("t") == []


def test_a_create_auth_rejected_as_existing_leaves_no_ledger_entry(tmp_path: Path) -> None:
    auth, _, ledger = guarded(tmp_path)
    uid = run_virtual(auth.create(tagged()))

    with pytest.raises(AlreadyExists):
        run_virtual(auth.create(tagged()))

    assert [e.user_id for e in ledger.entries("t")] == [uid]


def test_a_tagged_user_created_elsewhere_may_be_deleted(tmp_path: Path) -> None:
    auth, world, _ = guarded(tmp_path)
    uid = world.auth.new_user(tagged())

    run_virtual(auth.delete(uid))

    assert world.auth.users == {}


def test_an_unknown_user_is_not_found(tmp_path: Path) -> None:
    auth, _, _ = guarded(tmp_path)

    with pytest.raises(NotFound):
        run_virtual(auth.update("u-nobody", {"display_name": "x"}))


def test_list_shows_only_synthetic_users(tmp_path: Path) -> None:
    auth, world, _ = guarded(tmp_path)
    world.auth.new_user(dict(ALICE))
    world.auth.new_user({"email": f"alice@{DOMAIN}"})
    uid = world.auth.new_user(tagged())

    assert run_virtual(auth.list(f"@{DOMAIN}")) == [(uid, tagged()["email"])]


# -- no tagged user is left behind, and real users are never touched ---------------------


class CrashingBackend:
    """Backend whose `nth` call raises: a probe that raises midway."""

    def __init__(self, inner: Any, nth: int) -> None:
        self.inner = inner
        self.left = nth

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.inner, name)
        if name == "close" or not callable(call):
            return call

        async def crashing(*args: Any, **kwargs: Any) -> Any:
            self.left -= 1
            if self.left == 0:
                raise RuntimeError(f"injected failure in backend.{name}")
            return await call(*args, **kwargs)

        return crashing


def synthetic_in_auth(world: World) -> list[str]:
    return [u.fields["email"] for u in world.auth.users.values() if DOMAIN in u.fields["email"]]


def run_and_settle(target: Target, probe: str) -> tuple[Any, World]:
    world = target.state["world"]
    assert isinstance(world, World)

    async def scenario() -> Any:
        result = await run_probe(target, probe, ProbeSettings())
        await world.settle()
        await target.close()
        return result

    return run_virtual(scenario()), world


CRASHES = [  # (probe, which backend call raises); rollback makes one call, transaction two
    *((p, n) for p in PROBE_NAMES for n in (1, 2, 3) if p not in ("rollback", "transaction")),
    ("transaction", 1), ("transaction", 2), ("rollback", 1),
]  # fmt: skip


@pytest.mark.parametrize(("probe", "nth"), CRASHES)
def test_a_probe_that_raises_midway_leaves_no_tagged_user_in_auth(
    sim_target: Callable[..., Target], probe: str, nth: int
) -> None:
    target = sim_target()
    target.backend = CrashingBackend(target.backend, nth)

    result, world = run_and_settle(target, probe)

    assert result.outcome == "error"
    assert "injected failure" in (result.error or "")
    assert synthetic_in_auth(world) == []


@pytest.mark.parametrize("probe", PROBE_NAMES)
@pytest.mark.parametrize("seed", range(5))
def test_a_probe_meeting_faults_leaves_no_tagged_user_in_auth_and_alice_untouched(
    sim_target: Callable[..., Target], probe: str, seed: int
) -> None:
    target = sim_target({"seed": seed, "faults": EVERY_FAULT})
    world = target.state["world"]
    alice = with_alice(world)

    result, world = run_and_settle(target, probe)

    assert synthetic_in_auth(world) == [] or "cleanup failed" in (result.error or "")
    assert world.auth.users[alice].fields == ALICE
    assert [r.fields for r in world.backend.records[alice]] == [ALICE]


@pytest.mark.parametrize("probe", PROBE_NAMES)
def test_a_healthy_run_leaves_no_tagged_record_anywhere(
    sim_target: Callable[..., Target], probe: str
) -> None:
    target = sim_target({"latency_jitter": 0.01})
    alice = with_alice(target.state["world"])

    result, world = run_and_settle(target, probe)

    assert result.outcome == "pass"
    assert list(world.auth.users) == [alice]
    assert list(world.backend.records) == [alice]
    assert world.backend.dependents == {}
