"""The compressed history ring: what goes in comes out, newest kept, found by sequence; and
a job's status made from it, whole or as JSON in pieces."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

import monitor.history
from monitor.history import History
from monitor.metrics import Metrics
from monitor.recorder import Recorder
from monitor.results import Inconsistency, ProbeResult, Step, Sync, result_to_dict
from monitor.status import job_status, job_status_json, json_object

STARTED = 1_714_564_800.123456


def result(n: int, **changes: object) -> ProbeResult:
    base = ProbeResult(
        target="shop",
        probe="update_propagation",
        outcome="pass",
        started_at=STARTED + 30 * n,
        duration_seconds=0.5 + n / 1000,
        syncs=(Sync("create", 0.041 + n / 1e4, 3, acked=12.5), Sync("update", None, 40)),
        steps=tuple(Step(f"auth.call_{i}", i / 7 + n, started=1.0) for i in range(12)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_every_kept_result_reads_back_as_recorded() -> None:
    history = History(10)
    originals = [result(n) for n in range(5)]
    originals[3] = result(3, outcome="fail", inconsistencies=(Inconsistency("stale", 'é "x"'),))
    originals[4] = result(4, outcome="error", error="auth: HTTP 503 from /users")
    for seq, original in enumerate(originals, start=100):
        history.append(seq, original)
    entries = history.entries()
    assert [e.seq for e in entries] == [100, 101, 102, 103, 104]
    for entry, original in zip(entries, originals, strict=True):
        assert entry.as_dict() == result_to_dict(original)
        assert entry.outcome == original.outcome
        assert entry.started_at == original.started_at  # exact, not the millisecond ISO form
        assert entry.duration_seconds == original.duration_seconds
        again = entry.result()
        assert again.started_at == original.started_at
        assert again.inconsistencies == original.inconsistencies
        assert again.error == original.error
        assert [s.name for s in again.steps] == [s.name for s in original.steps]


def test_the_ring_keeps_the_newest_and_a_resize_keeps_the_newest_too() -> None:
    history = History(3)
    for seq in range(1, 8):
        history.append(seq, result(seq))
    assert [e.seq for e in history.entries()] == [5, 6, 7]
    assert [e.seq for e in history.entries(2)] == [6, 7]
    assert history.entries(0) == []
    history.resize(2)
    assert [e.seq for e in history] == [6, 7]
    history.resize(5)
    history.append(8, result(8))
    assert [e.seq for e in history] == [6, 7, 8]


def test_find_returns_only_a_kept_sequence_number() -> None:
    history = History(3)
    assert history.find(1) is None
    for seq in (10, 20, 30, 40):
        history.append(seq, result(seq))
    found = history.find(30)
    assert found is not None and found.seq == 30
    assert found.as_dict() == result_to_dict(result(30))
    assert history.find(10) is None  # left the ring
    assert history.find(25) is None  # within the range, never recorded
    assert history.find(50) is None


class NoSchedule:
    def next_run(self, target: str, probe: str) -> float | None:
        return None


def test_job_status_in_full_and_in_brief() -> None:
    recorder = Recorder(Metrics(CollectorRegistry()), history=4)
    recorder.add_job("shop", "update_propagation", interval=30.0, kinds=("stale",))
    recorded = [recorder.record(result(n)) for n in range(6)]
    full = job_status(recorder, NoSchedule(), "shop", "update_propagation", None)
    assert [h["seq"] for h in full["history"]] == [r.seq for r in recorded[2:]]
    assert full["history"][-1] == {"seq": recorded[-1].seq, **result_to_dict(result(5))}
    assert full["last"] == full["history"][-1]
    brief = job_status(recorder, NoSchedule(), "shop", "update_propagation", 2, detail=False)
    assert brief["history"] == [
        {"seq": r.seq, "outcome": "pass", "started_at": result_to_dict(r.result)["started_at"]}
        for r in recorded[4:]
    ]
    assert brief["last"] == full["last"]
    found = recorder.find(recorded[3].seq)
    assert found is not None  # the serialiser keeps microseconds
    assert [(s.name, s.seconds) for s in found.result.steps] == [
        (s.name, round(s.seconds, 6)) for s in result(3).steps
    ]
    assert recorder.find(recorded[0].seq) is None


def test_a_result_larger_than_the_compression_window_reads_back() -> None:
    history = History(3)
    history.append(1, result(1))
    long = "x" * 9000 + "é"  # past the 4 KiB window, and not ASCII
    big = result(2, outcome="fail", inconsistencies=(Inconsistency("missing", long),) * 3)
    history.append(2, big)
    history.append(3, result(3))
    assert [e.as_dict() for e in history] == [
        result_to_dict(r) for r in (result(1), big, result(3))
    ]


def test_results_deflated_together_in_blocks_read_back_and_are_found() -> None:
    history = History(25)
    originals = {seq: result(seq) for seq in range(1, 38)}  # three blocks sealed, seven open
    originals[12] = result(12, outcome="fail", inconsistencies=(Inconsistency("stale", "x\ny"),))
    for seq, original in originals.items():
        history.append(seq, original)
    kept = list(range(13, 38))
    assert len(history) == 25
    assert [e.seq for e in history] == kept  # a block's older half is held, not kept
    assert [e.as_dict() for e in history] == [result_to_dict(originals[s]) for s in kept]
    assert [e.seq for e in history.entries(9)] == kept[-9:]  # across a block's edge
    for seq in (13, 20, 21, 30, 31, 37):
        found = history.find(seq)
        assert found is not None and found.as_dict() == result_to_dict(originals[seq])
    assert history.find(12) is None  # held in its block, but no longer kept
    history.resize(4)
    history.resize(50)
    assert [e.seq for e in history] == [34, 35, 36, 37]  # what a resize dropped stays gone
    history.append(38, originals[37])
    assert [e.seq for e in history] == [34, 35, 36, 37, 38]


def test_a_block_costs_less_than_its_results_deflated_alone() -> None:
    alone, blocked = History(9), History(10)  # nine stay open; a tenth seals a block
    for seq in range(9):
        alone.append(seq, result(seq))
    for seq in range(10):
        blocked.append(seq, result(seq))
    assert len(alone._open) == 9 and not blocked._open and len(blocked._blocks) == 1
    # one result more, in fewer bytes
    assert len(blocked._blocks[0]) < sum(len(packed) for packed in alone._open)


def test_reading_every_kept_result_inflates_each_block_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    history = History(25)
    for seq in range(1, 38):  # kept: 13-20 and 21-30 in two blocks, 31-37 alone
        history.append(seq, result(seq))
    inflated = []
    real = monitor.history._inflate

    def counting(data: bytes, zdict: bytes) -> bytes:
        inflated.append(data)
        return real(data, zdict)

    monkeypatch.setattr(monitor.history, "_inflate", counting)
    assert [e.as_dict() for e in history] == [result_to_dict(result(s)) for s in range(13, 38)]
    assert len(inflated) == 2 + 7


def test_a_jobs_status_as_json_pieces_is_its_status() -> None:
    recorder = Recorder(Metrics(CollectorRegistry()), history=25)
    recorder.add_job("shop", "update_propagation", interval=30.0, kinds=("stale",))
    for n in range(30):
        recorder.record(result(n))
    for history in (None, 0, 1, 12):
        pieces = list(
            job_status_json(recorder, NoSchedule(), "shop", "update_propagation", history)
        )
        assert len(pieces) > (history if history is not None else 25)  # a piece per result
        whole = job_status(recorder, NoSchedule(), "shop", "update_propagation", history)
        assert json.loads("".join(pieces)) == whole


@pytest.mark.parametrize(
    ("head", "items"),
    [({"a": 1, "b": [1, "x"]}, [{"c": None}, [], "é\n"]), ({}, []), ({"a": {"b": {}}}, [1])],
)
def test_json_object_in_pieces_is_the_whole_objects_json(
    head: dict[str, object], items: list[object]
) -> None:
    pieces = json_object(head, "jobs", ([json.dumps(item)] for item in items))
    assert json.loads("".join(pieces)) == {**head, "jobs": items}
