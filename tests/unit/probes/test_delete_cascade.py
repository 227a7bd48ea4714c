"""delete_cascade: deleting a user in Auth removes it and all its dependents from Backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.probes.delete_cascade import DEPENDENTS

RunOnce = Callable[..., Any]


def step_names(ran: Any) -> list[str]:
    return [s.name for s in ran.result.steps]


def test_passes_once_user_and_dependents_are_gone(run_once: RunOnce) -> None:
    ran = run_once("delete_cascade")

    assert ran.result.outcome == "pass"
    assert step_names(ran).count("backend.create_dependent") == DEPENDENTS
    assert "backend.wait_dependents" in step_names(ran)
    assert ran.world.backend.dependents == {}


def test_skip_cascade_is_reported_as_cascade(run_once: RunOnce) -> None:
    ran = run_once("delete_cascade", {"faults": {"skip_cascade": 1}})

    (cascade,) = ran.result.inconsistencies
    assert cascade.kind == "cascade"
    assert cascade.detail == f"{DEPENDENTS} of {DEPENDENTS} dependents survived the deletion"


def test_drop_sync_on_delete_is_reported_as_orphan_without_checking_dependents(
    run_once: RunOnce,
) -> None:
    ran = run_once("delete_cascade", {"faults": {"drop_sync": {"delete": 1}}})

    assert ran.result.kinds == {"orphan"}
    assert "backend.wait_dependents" not in step_names(ran)


def test_a_user_that_never_arrived_gets_no_dependents_nor_deletion(run_once: RunOnce) -> None:
    ran = run_once("delete_cascade", {"faults": {"drop_sync": {"create": 1}}})

    assert ran.result.kinds == {"missing"}
    assert "backend.create_dependent" not in step_names(ran)
    assert "backend.wait_delete" not in step_names(ran)
