"""Ground truth: when each change became visible, and which faults fired and showed."""

from __future__ import annotations

from monitor.sim.truth import FaultRecord, GroundTruth


def always(record: FaultRecord) -> bool:
    return True


def test_latency_is_from_emission_to_visibility() -> None:
    t = GroundTruth()
    t.emitted(1, "create", "u-1", 1, at=10.0)
    t.emitted(2, "update", "u-1", 2, at=11.0)

    t.visible(1, at=10.25)

    assert t.latency_of("u-1", "create") == [0.25]
    assert t.latency_of("u-1", "update") == [None]


def test_a_change_is_visible_from_the_first_time_it_showed() -> None:
    t = GroundTruth()
    t.emitted(1, "create", "u-1", 1, at=0.0)

    t.visible(1, at=1.0)
    t.visible(1, at=2.0)

    assert t.changes[1].visible_at == 1.0


def test_judging_decides_only_undecided_faults_of_the_users_named() -> None:
    t = GroundTruth()
    t.fired("duplicate_sync", "u-1", "create", 0.0)
    t.fired("duplicate_sync", "u-2", "create", 0.0)
    t.judge(["u-1"], lambda r: False)

    t.judge(["u-1", "u-2"], always)

    assert [f.observable for f in t.faults] == [False, True]


def test_faults_after_cleanup_started_are_marked_during_cleanup_and_never_judged() -> None:
    t = GroundTruth()
    t.cleanup_started(["u-1"], always)

    t.fired("drop_sync", "u-1", "delete", 1.0)
    t.cleanup_started(["u-1"], always)

    (record,) = t.faults
    assert record.during_cleanup
    assert record.observable is None


def test_a_swept_orphan_makes_its_lost_deletion_visible() -> None:
    t = GroundTruth()
    t.emitted(1, "delete", "u-1", 1, at=1.0)

    t.swept("u-1", at=3.5)

    assert t.latency_of("u-1", "delete") == [2.5]


def test_clear_forgets_everything() -> None:
    t = GroundTruth()
    t.emitted(1, "create", "u-1", 1, at=0.0)
    t.cleanup_started(["u-1"], always)
    t.fired("drop_sync", "u-1", "delete", 1.0)

    t.clear()
    t.fired("drop_sync", "u-1", "delete", 2.0)

    assert t.changes == {}
    assert [f.during_cleanup for f in t.faults] == [False]


def test_memory_is_bounded() -> None:
    t = GroundTruth(limit=3)

    for seq in range(1, 6):
        t.emitted(seq, "create", f"u-{seq}", 1, at=0.0)

    assert list(t.changes) == [3, 4, 5]
