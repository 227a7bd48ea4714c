"""The simulator adapter: the world's calls, its errors mapped to what probes understand."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitor.targets.base import (
    AUTH_CALLS,
    BACKEND_CALLS,
    AlreadyExists,
    NotFound,
    Target,
    TargetError,
)
from monitor.vtime import run_virtual

SimTarget = Callable[..., Target]


def test_a_simulator_target_can_make_every_call(sim_target: SimTarget) -> None:
    target = sim_target()

    assert target.calls == {f"auth.{c}" for c in AUTH_CALLS} | {
        f"backend.{c}" for c in BACKEND_CALLS
    }


def test_an_existing_email_is_already_exists(sim_target: SimTarget) -> None:
    target = sim_target()

    async def scenario() -> None:
        fields = {"email": target.new_email()}
        await target.auth.create(fields)
        await target.auth.create(fields)

    with pytest.raises(AlreadyExists):
        run_virtual(scenario())


def test_an_unknown_user_is_not_found(sim_target: SimTarget) -> None:
    with pytest.raises(NotFound):
        run_virtual(sim_target().backend.create_dependent("u-nobody", "session"))


def test_other_simulator_errors_carry_their_status(sim_target: SimTarget) -> None:
    target = sim_target({"faults": {"auth_errors": 1}})

    with pytest.raises(TargetError, match=r"^500 internal server error during get$"):
        run_virtual(target.auth.get("u-1"))


def test_a_backend_outage_answers_503_until_it_ends(sim_target: SimTarget) -> None:
    target = sim_target()

    async def scenario() -> None:
        await target.backend.outage(True)
        with pytest.raises(TargetError, match=r"^503 "):
            await target.backend.get_user("u-1")
        await target.backend.outage(False)
        assert await target.backend.get_user("u-1") is None

    run_virtual(scenario())


def test_the_same_seed_makes_the_same_synthetic_users(sim_target: SimTarget) -> None:
    first, second = sim_target({"seed": 5}), sim_target({"seed": 5})

    async def emails(target: Target) -> list[str]:
        return [target.new_email() for _ in range(3)]

    assert run_virtual(emails(first)) == run_virtual(emails(second))


def test_cleanup_starting_judges_the_faults_of_the_run(sim_target: SimTarget) -> None:
    target = sim_target({"faults": {"auth_errors": 1}})
    with pytest.raises(TargetError):
        run_virtual(target.auth.get("u-1"))

    target.on_cleanup(["u-1"])

    (record,) = target.state["world"].truth.faults  # type: ignore[attr-defined]
    assert record.observable is True


def test_the_embedded_simulator_keeps_little_ground_truth() -> None:
    from monitor.clock import SYSTEM_CLOCK
    from monitor.config import TargetConfig
    from monitor.targets.simulator import EMBEDDED_TRUTH_LIMIT, simulator_target

    target = simulator_target(TargetConfig(name="sim", simulator={}), clock=SYSTEM_CLOCK)
    world = target.state["world"]
    assert world.truth.limit == EMBEDDED_TRUTH_LIMIT  # type: ignore[attr-defined]
    assert world.truth.faults.maxlen == EMBEDDED_TRUTH_LIMIT  # type: ignore[attr-defined]


def test_the_monitors_own_simulator_keeps_no_ground_truth() -> None:
    """Nothing in the monitor reads it: a daemon's worlds record no change and no fault."""
    from monitor.config import ProbeSettings, TargetConfig
    from monitor.runner import run_probe
    from monitor.targets.build import build_target
    from monitor.vtime import virtual_clock

    config = TargetConfig(name="sim", simulator={"seed": 1, "faults": {"skip_cascade": 1}})
    target = build_target(config, clock=virtual_clock())
    result = run_virtual(run_probe(target, "delete_cascade", ProbeSettings()))
    assert result.kinds == {"cascade"}  # the fault is caught all the same
    world = target.state["world"]
    assert world.truth.changes == {}  # type: ignore[attr-defined]
    assert list(world.truth.faults) == []  # type: ignore[attr-defined]
