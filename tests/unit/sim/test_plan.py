"""The Backend's rules: the writes each event makes, decided from what Backend holds."""

from __future__ import annotations

import random

from monitor.config import FaultsConfig
from monitor.sim.faults import FaultDice
from monitor.sim.model import Event
from monitor.sim.plan import Held, Insert, Remove, Rules, Update
from monitor.sim.truth import GroundTruth

UID = "u-1"
NOBODY = Held(rows=0, dependents=0)
ONE_ROW = Held(rows=1, dependents=0, written={"display_name": 1, "profile.city": 1})


def rules(**faults: object) -> Rules:
    dice = FaultDice(FaultsConfig.model_validate(faults), random.Random(1))
    return Rules(dice, GroundTruth())


def event(op: str, fields: dict[str, str] | None = None, version: int = 1) -> Event:
    return Event(1, op, UID, version, fields or {}, 0.0)


def test_a_create_inserts_one_row_unless_backend_holds_the_user() -> None:
    r = rules()

    assert r.plan(event("create", {"email": "a@x"}), NOBODY, 0.0) == [
        Insert(UID, {"email": "a@x"}, 1, 1)
    ]
    assert r.plan(event("create", {"email": "a@x"}), ONE_ROW, 0.0) == []


def test_an_update_of_a_user_backend_does_not_hold_writes_nothing() -> None:
    assert rules().plan(event("update", {"display_name": "B"}, 2), NOBODY, 0.0) == []


def test_partial_update_damages_the_skipped_fields_with_the_stamps_they_held() -> None:
    r = rules(partial_update=1)
    changes = {"display_name": "B", "profile.city": "Rome"}

    [write] = r.plan(event("update", changes, 2), ONE_ROW, 0.0)

    assert write == Update(UID, {"display_name": "B"}, 2, 1)
    assert [(f.fault, f.damage) for f in r.truth.faults] == [
        ("partial_update", {"profile.city": 1})
    ]


def test_skip_cascade_keeps_the_dependents_only_when_there_are_some() -> None:
    r = rules(skip_cascade=1)

    assert r.plan(event("delete"), Held(rows=1, dependents=2), 0.0) == [Remove(UID, True)]
    assert r.plan(event("delete"), Held(rows=1, dependents=0), 0.0) == [Remove(UID)]
    assert [f.fault for f in r.truth.faults] == ["skip_cascade"]


def test_a_dropped_event_is_recorded_and_plans_nothing() -> None:
    r = rules(drop_sync={"update": 1})

    assert r.dropped(event("update", {"display_name": "B"}, 2), 0.0)
    assert not r.dropped(event("create"), 0.0)
    assert not r.dropped(event("update", version=3), 0.0, faults=False)
    assert [(f.fault, f.version) for f in r.truth.faults] == [("drop_sync", 2)]


def test_the_sweep_removes_every_orphan_unless_no_orphan_sweep_fires() -> None:
    assert rules().sweep(["u-1", "u-2"], 0.0) == [Remove("u-1"), Remove("u-2")]
    failing = rules(no_orphan_sweep=1)
    assert failing.sweep(["u-1"], 0.0) == []
    assert [f.user_id for f in failing.truth.faults] == ["u-1"]
