"""Fault dice: each fault fires with its configured probability, reproducibly."""

from __future__ import annotations

import random

from monitor.config import FaultsConfig
from monitor.sim.faults import FaultDice


def dice(seed: int = 1, **faults: object) -> FaultDice:
    return FaultDice(FaultsConfig.model_validate(faults), random.Random(seed))


def test_a_fault_at_probability_zero_never_fires() -> None:
    d = dice()

    assert not any(d.fires("duplicate_sync") for _ in range(1000))


def test_a_fault_at_probability_one_always_fires() -> None:
    d = dice(duplicate_sync=1)

    assert all(d.fires("duplicate_sync") for _ in range(1000))


def test_a_per_operation_fault_fires_only_for_its_operation() -> None:
    d = dice(drop_sync={"update": 1})

    assert d.fires("drop_sync", "update")
    assert not d.fires("drop_sync", "create")
    assert not d.fires("drop_sync", "delete")


def test_a_fault_fires_about_as_often_as_its_probability() -> None:
    d = dice(skip_cascade=0.3)

    fired = sum(d.fires("skip_cascade") for _ in range(10_000))

    assert 2_700 < fired < 3_300


def test_the_same_seed_fires_the_same_faults() -> None:
    first, second = dice(7, half_commit=0.5), dice(7, half_commit=0.5)

    assert [first.fires("half_commit") for _ in range(100)] == [
        second.fires("half_commit") for _ in range(100)
    ]


def test_jitter_stays_within_its_spread_and_never_goes_negative() -> None:
    d = dice()

    values = [d.jitter(0.05, 0.1) for _ in range(1000)]

    assert all(0.0 <= v <= 0.15 for v in values)
    assert min(values) == 0.0
    assert d.jitter(0.05, 0.0) == 0.05
