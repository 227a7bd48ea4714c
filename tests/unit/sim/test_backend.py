"""The simulated Backend: applying change events, with the faults that fire on them."""

from __future__ import annotations

import pytest

from monitor.config import SimulatorConfig
from monitor.sim.model import FIELD_DEFAULTS, Event, NotFoundError, Unavailable
from monitor.sim.world import World
from monitor.vtime import run_virtual

UID = "u-1"
FIELDS = {
    "email": "a@x.invalid",
    "display_name": "A",
    "profile.city": "Oslo",
    "profile.plan": "pro",
}


def world(**faults: object) -> World:
    return World(SimulatorConfig.model_validate({"seed": 1, "faults": faults}))


def apply(w: World, op: str, fields: dict[str, str], version: int, seq: int = 1) -> None:
    w.backend.apply(Event(seq, op, UID, version, fields, 0.0), now=0.0)


def created(**faults: object) -> World:
    w = world(**faults)
    apply(w, "create", FIELDS, 1)
    return w


def shown(w: World) -> dict[str, str]:
    return w.backend.records[UID][0].fields


def test_a_redelivered_create_is_idempotent() -> None:
    w = created()

    apply(w, "create", FIELDS, 1, seq=2)

    assert len(w.backend.records[UID]) == 1


def test_duplicate_sync_inserts_a_second_record() -> None:
    w = created(duplicate_sync=1)

    assert len(w.backend.records[UID]) == 2
    assert [f.fault for f in w.truth.faults] == ["duplicate_sync"]


def test_drop_sync_leaves_backend_unchanged_and_records_the_fault() -> None:
    w = created(drop_sync={"update": 1})

    apply(w, "update", {"display_name": "B"}, 2)

    assert shown(w)["display_name"] == "A"
    assert [(f.fault, f.operation, f.version) for f in w.truth.faults] == [
        ("drop_sync", "update", 2)
    ]


def test_partial_update_applies_only_the_first_changed_field() -> None:
    w = created(partial_update=1)

    apply(w, "update", {"display_name": "B", "profile.city": "Rome"}, 2)

    assert (shown(w)["display_name"], shown(w)["profile.city"]) == ("B", "Oslo")
    assert list(w.truth.faults[0].damage) == ["profile.city"]


def test_partial_update_needs_two_fields_to_fire() -> None:
    w = created(partial_update=1)

    apply(w, "update", {"display_name": "B"}, 2)

    assert shown(w)["display_name"] == "B"
    assert list(w.truth.faults) == []


def test_clobber_update_resets_every_untouched_field_to_its_default() -> None:
    w = created(clobber_update=1)

    apply(w, "update", {"display_name": "B"}, 2)

    assert shown(w) == {**FIELDS, **FIELD_DEFAULTS, "display_name": "B"}
    assert "display_name" not in w.truth.faults[0].damage


def test_a_delete_removes_the_user_and_its_dependents() -> None:
    w = created()
    run_virtual(w.backend.create_dependent(UID, "session"))

    apply(w, "delete", {}, 1, seq=2)

    assert (w.backend.records, w.backend.dependents) == ({}, {})


def test_skip_cascade_keeps_the_dependents_of_a_deleted_user() -> None:
    w = created(skip_cascade=1)
    run_virtual(w.backend.create_dependent(UID, "session"))

    apply(w, "delete", {}, 1, seq=2)

    assert w.backend.records == {}
    assert w.backend.dependents == {UID: ["session"]}


def test_skip_cascade_only_fires_when_there_are_dependents() -> None:
    w = created(skip_cascade=1)

    apply(w, "delete", {}, 1, seq=2)

    assert list(w.truth.faults) == []


def test_a_dependent_needs_its_user() -> None:
    with pytest.raises(NotFoundError):
        run_virtual(world().backend.create_dependent(UID, "session"))


def test_a_backend_in_an_outage_answers_unavailable() -> None:
    w = created()
    w.backend.down = True

    with pytest.raises(Unavailable):
        run_virtual(w.backend.get_user(UID))
