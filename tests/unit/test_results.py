"""ProbeResult: the one serialiser, outcome precedence, the fixed vocabulary of kinds."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from monitor.results import (
    KINDS,
    Inconsistency,
    ProbeResult,
    Step,
    Sync,
    outcome_of,
    report_to_dict,
    result_from_dict,
    result_to_dict,
)

STARTED = 1_714_564_800.25  # 2024-05-01T12:00:00.250Z


def a_result(**changes: object) -> ProbeResult:
    result = ProbeResult(
        target="shop",
        probe="update_propagation",
        outcome="fail",
        started_at=STARTED,
        duration_seconds=1.234567,
        syncs=(Sync("create", 0.041, 3, acked=12.5), Sync("update", None, 40, acked=13.0)),
        steps=(Step("auth.create", 0.012, started=12.4), Step("backend.wait_update", 5.0)),
        inconsistencies=(Inconsistency("stale", "email still old after 5.000 s"),),
    )
    return replace(result, **changes)  # type: ignore[arg-type]


def test_a_result_survives_a_round_trip_through_json() -> None:
    result = a_result()
    text = json.dumps(result_to_dict(result))
    assert result_from_dict(json.loads(text)) == result


def test_a_round_trip_drops_only_the_monotonic_instants() -> None:
    back = result_from_dict(result_to_dict(a_result()))
    assert [s.acked for s in back.syncs] == [0.0, 0.0]
    assert [s.started for s in back.steps] == [0.0, 0.0]
    assert back.syncs == a_result().syncs  # monotonic fields are not compared


@pytest.mark.parametrize(
    "result",
    [
        a_result(outcome="pass", syncs=(), steps=(), inconsistencies=()),
        a_result(outcome="error", error="auth.create: 503 unavailable", inconsistencies=()),
        a_result(started_at=0.0, duration_seconds=0.0),
    ],
    ids=["empty", "error", "epoch"],
)
def test_other_results_round_trip_too(result: ProbeResult) -> None:
    assert result_from_dict(result_to_dict(result)) == result


def test_the_serialised_shape_is_the_documented_one() -> None:
    data = result_to_dict(a_result())
    assert data == {
        "target": "shop",
        "probe": "update_propagation",
        "outcome": "fail",
        "started_at": "2024-05-01T12:00:00.250Z",
        "duration_seconds": 1.234567,
        "syncs": [
            {"operation": "create", "seconds": 0.041, "reads": 3},
            {"operation": "update", "seconds": None, "reads": 40},
        ],
        "steps": [
            {"name": "auth.create", "seconds": 0.012},
            {"name": "backend.wait_update", "seconds": 5.0},
        ],
        "inconsistencies": [{"kind": "stale", "detail": "email still old after 5.000 s"}],
        "error": None,
    }


def test_seconds_are_rounded_to_microseconds() -> None:
    data = result_to_dict(a_result(duration_seconds=0.123456789))
    assert data["duration_seconds"] == 0.123457


def test_started_at_is_utc_with_milliseconds() -> None:
    assert result_to_dict(a_result(started_at=0.0009))["started_at"] == "1970-01-01T00:00:00.000Z"
    assert result_to_dict(a_result(started_at=59.999))["started_at"] == "1970-01-01T00:00:59.999Z"


def test_a_report_is_ok_only_when_every_result_passed() -> None:
    passed = a_result(outcome="pass", inconsistencies=())
    assert report_to_dict([passed, passed])["ok"] is True
    assert report_to_dict([passed, a_result()])["ok"] is False
    assert report_to_dict([])["ok"] is True
    assert len(report_to_dict([passed, a_result()])["results"]) == 2


@pytest.mark.parametrize(
    ("found", "error", "outcome"),
    [
        ((), None, "pass"),
        ((Inconsistency("slow", "x"),), None, "fail"),
        ((), "boom", "error"),
        ((Inconsistency("missing", "x"),), "boom", "error"),
    ],
)
def test_outcome_precedence_is_error_then_fail_then_pass(
    found: tuple[Inconsistency, ...], error: str | None, outcome: str
) -> None:
    assert outcome_of(found, error) == outcome
    assert outcome_of(iter(found), error) == outcome  # any iterable, consumed once


def test_an_empty_error_string_still_counts_as_an_error() -> None:
    assert outcome_of((), "") == "error"


@pytest.mark.parametrize("kind", KINDS)
def test_every_documented_kind_is_accepted(kind: str) -> None:
    assert Inconsistency(kind, "detail").kind == kind


def test_the_vocabulary_of_kinds_is_fixed() -> None:
    assert KINDS == (
        "missing", "stale", "cascade", "orphan", "duplicate", "partial", "rollback", "slow",
    )  # fmt: skip


def test_an_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown inconsistency kind 'lost'"):
        Inconsistency("lost", "detail")


def test_an_unknown_kind_is_rejected_when_reading_a_result_back() -> None:
    data = result_to_dict(a_result())
    data["inconsistencies"][0]["kind"] = "Stale"
    with pytest.raises(ValueError, match="unknown inconsistency kind"):
        result_from_dict(data)


def test_an_unknown_outcome_is_rejected() -> None:
    data = result_to_dict(a_result())
    data["outcome"] = "passed"
    with pytest.raises(ValueError, match="unknown outcome 'passed'"):
        result_from_dict(data)


def test_kinds_lists_what_a_result_found() -> None:
    found = (Inconsistency("stale", "a"), Inconsistency("slow", "b"), Inconsistency("stale", "c"))
    assert a_result(inconsistencies=found).kinds == frozenset({"stale", "slow"})


def test_any_millisecond_timestamp_round_trips_exactly() -> None:
    rng = random.Random(7)
    stamps = [round(rng.uniform(0, 4e9), 3) for _ in range(2000)]
    back = [result_from_dict(result_to_dict(a_result(started_at=ts))).started_at for ts in stamps]
    assert back == stamps
