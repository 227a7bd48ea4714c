"""The fault table: each fault at probability 1 is reported with exactly its kind.

Every probe passes on a healthy simulator; with one fault always firing, the probes
that exercise the faulty operation report exactly the fault's kind and every other
probe still passes. Auth errors make every probe's outcome `error`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from monitor.probes import PROBE_NAMES
from monitor.results import result_to_dict

RunOnce = Callable[..., Any]

CREATES_THROUGH_SYNC = (
    "create_sync", "update_propagation", "delete_cascade", "concurrent", "load",
    "duplicate", "orphan_cleanup", "partial_update",
)  # fmt: skip
UPDATES = ("update_propagation", "load", "partial_update")
TWO_FIELD_UPDATES = ("update_propagation", "partial_update")

# (id, faults, the probes that notice, the kind they report)
FAULT_TABLE: list[tuple[str, dict[str, Any], tuple[str, ...], str]] = [
    ("drop_sync.create", {"drop_sync": {"create": 1}}, CREATES_THROUGH_SYNC, "missing"),
    ("drop_sync.update", {"drop_sync": {"update": 1}}, UPDATES, "stale"),
    ("drop_sync.delete", {"drop_sync": {"delete": 1}}, ("delete_cascade", "load"), "orphan"),
    ("duplicate_sync", {"duplicate_sync": 1}, CREATES_THROUGH_SYNC, "duplicate"),
    ("skip_cascade", {"skip_cascade": 1}, ("delete_cascade",), "cascade"),
    ("partial_update", {"partial_update": 1}, TWO_FIELD_UPDATES, "partial"),
    ("clobber_update", {"clobber_update": 1}, UPDATES, "partial"),
    ("reorder_sync", {"reorder_sync": 1}, ("update_propagation",), "stale"),
    ("half_commit", {"half_commit": 1}, ("transaction",), "missing"),
    ("non_atomic_rollback", {"non_atomic_rollback": 1}, ("rollback",), "rollback"),
    ("no_orphan_sweep", {"no_orphan_sweep": 1}, ("orphan_cleanup",), "orphan"),
]

CASES = [
    pytest.param(faults, probe, {kind} if probe in noticed else set(), id=f"{name}-{probe}")
    for name, faults, noticed, kind in FAULT_TABLE
    for probe in PROBE_NAMES
]

SYNC_PROBES = [p for p in PROBE_NAMES if p not in ("transaction", "rollback")]


@pytest.mark.parametrize("probe", PROBE_NAMES)
def test_every_probe_passes_on_a_healthy_simulator(run_once: RunOnce, probe: str) -> None:
    ran = run_once(probe, {"latency_jitter": 0.01})

    assert ran.result.outcome == "pass", ran.result
    assert ran.result.inconsistencies == ()


@pytest.mark.parametrize(("faults", "probe", "expected"), CASES)
def test_a_fault_that_always_fires_is_reported_with_exactly_its_kind(
    run_once: RunOnce, faults: dict[str, Any], probe: str, expected: set[str]
) -> None:
    ran = run_once(probe, {"faults": faults})

    assert ran.result.kinds == expected, ran.result
    assert ran.result.outcome == ("fail" if expected else "pass")


@pytest.mark.parametrize("probe", PROBE_NAMES)
def test_auth_errors_make_every_probe_outcome_error(run_once: RunOnce, probe: str) -> None:
    ran = run_once(probe, {"faults": {"auth_errors": 1}})

    assert ran.result.outcome == "error"
    assert ran.result.error is not None and "500" in ran.result.error


@pytest.mark.parametrize("probe", SYNC_PROBES)
def test_a_sync_later_than_the_sync_deadline_is_slow_with_its_latency(
    run_once: RunOnce, probe: str
) -> None:
    ran = run_once(probe, {"sync_delay": 2.0})

    assert ran.result.kinds == {"slow"}, ran.result
    assert ran.result.syncs
    assert all(s.seconds is not None and 2.0 <= s.seconds < 5.0 for s in ran.result.syncs)


@pytest.mark.parametrize("probe", SYNC_PROBES)
def test_a_sync_later_than_give_up_is_missing_with_no_latency(
    run_once: RunOnce, probe: str
) -> None:
    ran = run_once(probe, {"sync_delay": 6.0})

    assert ran.result.kinds == {"missing"}, ran.result
    syncs = result_to_dict(ran.result)["syncs"]
    assert syncs
    assert all(s["seconds"] is None for s in syncs)


@pytest.mark.parametrize("probe", [p for p in SYNC_PROBES if p != "load"])  # 3 s of syncs
def test_a_sync_just_inside_the_sync_deadline_is_not_slow(run_once: RunOnce, probe: str) -> None:
    ran = run_once(probe, {"sync_delay": 0.99})

    assert ran.result.outcome == "pass", ran.result


@pytest.mark.parametrize("probe", SYNC_PROBES)
def test_a_sync_just_past_the_sync_deadline_is_slow(run_once: RunOnce, probe: str) -> None:
    ran = run_once(probe, {"sync_delay": 1.01})

    assert ran.result.kinds == {"slow"}, ran.result
