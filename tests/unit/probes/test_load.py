"""load: three create+update+delete cycles complete within `deadlines.load`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.probes import load
from monitor.settings import Deadlines, ProbeSettings

RunOnce = Callable[..., Any]

STEADY = {"auth_latency": 0.05, "sync_delay": 0.04}  # no jitter: every run takes as long


def settings(load_budget: float, *, timeout: float = 25.0) -> ProbeSettings:
    return ProbeSettings(deadlines=Deadlines(load=load_budget), timeout=timeout)


def creates(ran: Any) -> int:
    return sum(s.name == "auth.create" for s in ran.result.steps)


def test_three_cycles_within_the_budget_pass(run_once: RunOnce) -> None:
    ran = run_once("load", STEADY)

    assert ran.result.outcome == "pass"
    assert creates(ran) == load.CYCLES
    assert ran.world.auth.users == {}


def test_no_step_starts_once_the_budget_is_spent(run_once: RunOnce) -> None:
    ran = run_once("load", STEADY, settings(0.15))

    (slow,) = ran.result.inconsistencies
    assert slow.kind == "slow"
    assert slow.detail == f"load budget of 0.15 s spent after 0 of {load.CYCLES} cycles"
    assert creates(ran) == 1
    assert "backend.wait_delete" not in [s.name for s in ran.result.steps]


def test_cycles_that_end_past_the_budget_are_slow(run_once: RunOnce) -> None:
    healthy = run_once("load", STEADY).result
    last_step = healthy.steps[-1]
    budget = last_step.started - healthy.steps[0].started + 0.001  # spent in the last wait

    ran = run_once("load", STEADY, settings(budget))

    (slow,) = ran.result.inconsistencies
    assert slow.kind == "slow"
    assert slow.detail.startswith(f"{load.CYCLES} cycles took ")


def test_slow_syncs_end_the_run_within_its_worst_case(run_once: RunOnce) -> None:
    deadlines = Deadlines(sync=1.0, give_up=5.0, load=3.0)
    worst = load.worst_case(deadlines)
    limited = ProbeSettings(deadlines=deadlines, timeout=worst)

    ran = run_once("load", {"sync_delay": 4.0}, limited)

    assert ran.result.outcome == "fail", ran.result.error
    assert ran.result.kinds == {"slow"}
    assert "load budget of 3 s spent" in ran.result.inconsistencies[-1].detail


def test_a_change_that_never_arrives_ends_the_cycles(run_once: RunOnce) -> None:
    ran = run_once("load", {"faults": {"drop_sync": {"update": 1}}})

    assert ran.result.kinds == {"stale"}
    assert creates(ran) == 1
