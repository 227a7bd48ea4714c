"""partial_update: updating two fields changes exactly those two; the others keep their value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunOnce = Callable[..., Any]


def test_a_two_field_update_that_fully_arrives_passes(run_once: RunOnce) -> None:
    ran = run_once("partial_update")

    assert ran.result.outcome == "pass"
    assert [s.operation for s in ran.result.syncs] == ["create", "update"]


def test_partial_update_is_reported_as_partial_naming_the_field_left_out(
    run_once: RunOnce,
) -> None:
    ran = run_once("partial_update", {"faults": {"partial_update": 1}})

    (partial,) = ran.result.inconsistencies
    assert partial.kind == "partial"
    assert partial.detail.endswith(": profile.locale")


def test_clobber_update_is_reported_as_partial_naming_the_fields_reset(
    run_once: RunOnce,
) -> None:
    ran = run_once("partial_update", {"faults": {"clobber_update": 1}})

    (partial,) = ran.result.inconsistencies
    assert partial.kind == "partial"
    assert partial.detail.endswith(": profile.timezone, profile.plan, profile.city, profile.theme")


def test_an_update_that_never_arrives_is_reported_as_stale(run_once: RunOnce) -> None:
    ran = run_once("partial_update", {"faults": {"drop_sync": {"update": 1}}})

    (stale,) = ran.result.inconsistencies
    assert stale.kind == "stale"
    assert stale.detail.endswith(": display_name, profile.locale")
