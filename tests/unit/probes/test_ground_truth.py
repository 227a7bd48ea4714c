"""The probes against the simulator's ground truth, over many seeded runs with faults.

Every fault fires with probability 0.3, alone or all at once. After each run the
ground truth says which faults fired and which were still observable when the probe
stopped looking; the probe must report exactly their kinds, `slow` exactly when a
change it waited for arrived after `deadlines.sync` (and nothing else), and an error
outcome whenever Auth answered an error during the run. A run that Auth stopped early
must raise no false alarm, but may miss what it never got to look at. With auth errors
at 0.3 most runs stop early, so the other faults are also run together without them.
The rules are bench/fault_scoring.py's, which the fault campaign (tests/unit/
test_campaign.py, `python -m bench campaign`) scores by too. Runs of one probe share a
target, so its read schedule learns as it would in production; virtual time makes
hundreds of runs take a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench.campaign import Cycle, Plan, run_cycle
from bench.fault_scoring import Run, describe, judge, problems
from monitor.probes import PROBE_NAMES
from monitor.settings import ProbeSettings
from monitor.sim.faults import FAULT_NAMES
from monitor.targets.base import Target
from monitor.vtime import run_virtual

RUNS = 80
HEALTHY_ROUNDS = 200
PROBABILITY = 0.3
SETTINGS = ProbeSettings()

DEFAULT_DELAYS = {"latency_jitter": 0.01}
NEAR_DEADLINES = {"sync_delay": 0.7, "latency_jitter": 0.5, "reorder_hold": 1.0}

FAULT_SETS = {
    **{name: {name: PROBABILITY} for name in FAULT_NAMES},
    "all": dict.fromkeys(FAULT_NAMES, PROBABILITY),
    "all_but_auth_errors": {n: PROBABILITY for n in FAULT_NAMES if n != "auth_errors"},
}


async def campaign(target: Target, probes: list[str], runs: int) -> list[Run]:
    """`runs` runs on one target, cycling through `probes`, each with fresh ground truth."""
    plan = Plan(runs, settings=SETTINGS)
    try:
        return [
            await run_cycle(target, Cycle(n, probes[n % len(probes)], None), plan)
            for n in range(runs)
        ]
    finally:
        await target.close()


def report(runs: list[Run]) -> list[str]:
    """Every run's problems against the ground truth (bench/fault_scoring.py's rules)."""
    return [describe(run, why) for run in runs for why in problems(run, judge(run))]


CASES = [
    pytest.param(delays, faults, probe, id=f"{delays_id}-{faults_id}-{probe}")
    for delays_id, delays, fault_sets in [
        ("default_delays", DEFAULT_DELAYS, list(FAULT_SETS)),
        ("near_deadlines", NEAR_DEADLINES, ["all", "all_but_auth_errors"]),
    ]
    for faults_id in fault_sets
    for faults in [FAULT_SETS[faults_id]]
    for probe in PROBE_NAMES
]


@pytest.mark.parametrize(("delays", "faults", "probe"), CASES)
def test_every_observable_fault_is_reported_with_its_kind_and_nothing_else(
    sim_target: Callable[..., Target], delays: dict[str, Any], faults: dict[str, Any], probe: str
) -> None:
    seed = PROBE_NAMES.index(probe) + 100 * len(faults)
    target = sim_target({**delays, "seed": seed, "faults": faults})

    runs = run_virtual(campaign(target, [probe], RUNS))

    assert report(runs) == []


NOTICING = {  # a fault alone, and a probe that must meet it observably in RUNS runs
    "drop_sync": "load",
    "duplicate_sync": "create_sync",
    "skip_cascade": "delete_cascade",
    "partial_update": "partial_update",
    "clobber_update": "partial_update",
    "reorder_sync": "update_propagation",
    "half_commit": "transaction",
    "non_atomic_rollback": "rollback",
    "no_orphan_sweep": "orphan_cleanup",
}


@pytest.mark.parametrize(("fault", "probe"), NOTICING.items())
def test_the_campaign_meets_each_fault_observably(
    sim_target: Callable[..., Target], fault: str, probe: str
) -> None:
    target = sim_target({**DEFAULT_DELAYS, "faults": {fault: PROBABILITY}})

    runs = run_virtual(campaign(target, [probe], RUNS))

    assert sum(bool(run.observable) for run in runs) >= RUNS * PROBABILITY / 3


def test_a_healthy_simulator_raises_no_alarm_in_200_rounds_of_every_probe(
    sim_target: Callable[..., Target],
) -> None:
    target = sim_target(DEFAULT_DELAYS)
    probes = list(PROBE_NAMES)

    runs = run_virtual(campaign(target, probes, HEALTHY_ROUNDS * len(probes)))

    failed = [(r.probe, r.number, r.result.outcome, r.result.error) for r in runs
              if r.result.outcome != "pass"]  # fmt: skip
    assert failed == []
    assert len(runs) == HEALTHY_ROUNDS * len(probes)


def test_all_probes_in_turn_on_one_faulty_target_match_the_ground_truth(
    sim_target: Callable[..., Target],
) -> None:
    target = sim_target({**DEFAULT_DELAYS, "seed": 7, "faults": FAULT_SETS["all_but_auth_errors"]})

    runs = run_virtual(campaign(target, list(PROBE_NAMES), 30 * len(PROBE_NAMES)))

    assert report(runs) == []
