"""The alert engine, pure: sequences of results × time → exact notifications. No sleeping."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from monitor.alerts.config import Rules
from monitor.alerts.engine import EngineState, Notification, Silence, evaluate, observe, with_jobs
from monitor.results import Inconsistency, ProbeResult, Sync

T0 = 1_800_000_000.0
INTERVAL = 30.0


def result(
    outcome: str = "pass",
    *,
    kinds: tuple[str, ...] = (),
    latency: float | None = 0.05,
    at: float = T0,
) -> ProbeResult:
    found = tuple(Inconsistency(k, f"{k} seen") for k in kinds)
    if outcome == "fail" and not found:
        found = (Inconsistency("missing", "missing seen"),)
    return ProbeResult(
        "sim",
        "create_sync",
        outcome,
        at,
        0.1,  # type: ignore[arg-type]
        syncs=(Sync("create", latency, 3),),
        inconsistencies=found,
        error="auth.create: 500" if outcome == "error" else None,
    )


@dataclass
class Harness:
    """Feeds results and ticks through the engine, collecting notifications."""

    rules: Rules
    silences: tuple[Silence, ...] = ()
    state: EngineState = field(default_factory=EngineState)
    seq: int = 0

    def __post_init__(self) -> None:
        self.state = with_jobs(EngineState(), [("sim", "create_sync", INTERVAL)], T0)

    def run(self, at: float, res: ProbeResult) -> list[Notification]:
        self.seq += 1
        self.state = observe(self.state, self.seq, res, self.rules)
        return self.tick(at)

    def tick(self, at: float) -> list[Notification]:
        self.state, notes = evaluate(self.state, at, self.rules, self.silences, "http://mon:9465")
        return notes


def only(rule: str, **settings: object) -> Rules:
    """Every rule off except one, configured as given."""
    off = {name: {"enabled": False} for name in Rules.model_fields}
    off[rule] = {"enabled": True, **settings}
    return Rules.model_validate(off)


def summary(notes: list[Notification]) -> list[tuple[str, str, str | None, bool]]:
    return [
        (n.status, n.alert.labels["alertname"], n.alert.labels.get("kind"), n.silenced)
        for n in notes
    ]


def test_inconsistency_fires_at_once_and_resolves_when_a_run_is_clean() -> None:
    h = Harness(only("inconsistency"))
    fired = h.run(T0, result("fail", kinds=("cascade",)))
    assert summary(fired) == [("firing", "ConsistencyInconsistency", "cascade", False)]
    assert fired[0].alert.labels["severity"] == "critical"
    assert fired[0].alert.annotations["link"] == "http://mon:9465/results/1"
    assert h.run(T0 + 30, result("fail", kinds=("cascade",))) == []
    assert summary(h.run(T0 + 60, result("pass"))) == [
        ("resolved", "ConsistencyInconsistency", "cascade", False)
    ]


@pytest.mark.parametrize(
    ("kind", "severity"),
    [
        ("cascade", "critical"),
        ("orphan", "critical"),
        ("rollback", "critical"),
        ("missing", "warning"),
        ("stale", "warning"),
        ("duplicate", "warning"),
        ("partial", "warning"),
        ("slow", "warning"),
    ],
)
def test_inconsistency_severity_follows_the_kind(kind: str, severity: str) -> None:
    notes = Harness(only("inconsistency")).run(T0, result("fail", kinds=(kind,)))
    assert [n.alert.labels["severity"] for n in notes] == [severity]


def test_inconsistency_only_for_listed_kinds() -> None:
    h = Harness(only("inconsistency", kinds=["orphan"]))
    assert h.run(T0, result("fail", kinds=("slow",))) == []
    assert summary(h.run(T0 + 30, result("fail", kinds=("orphan", "slow")))) == [
        ("firing", "ConsistencyInconsistency", "orphan", False)
    ]


def test_for_keeps_the_alert_pending_until_it_has_held_long_enough() -> None:
    h = Harness(only("inconsistency", **{"for": "60s"}))
    assert h.run(T0, result("fail", kinds=("missing",))) == []
    assert [a.state for a in h.state.alerts.values()] == ["pending"]
    assert h.run(T0 + 30, result("fail", kinds=("missing",))) == []
    assert summary(h.tick(T0 + 60)) == [("firing", "ConsistencyInconsistency", "missing", False)]


def test_pending_alert_that_clears_resolves_silently() -> None:
    h = Harness(only("inconsistency", **{"for": "60s"}))
    h.run(T0, result("fail", kinds=("missing",)))
    assert h.run(T0 + 30, result("pass")) == []
    assert h.state.alerts == {}


def test_flapping_condition_with_for_never_fires() -> None:
    h = Harness(only("inconsistency", **{"for": "45s"}))
    notes = []
    for i in range(10):
        outcome = result("fail", kinds=("stale",)) if i % 2 == 0 else result("pass")
        notes += h.run(T0 + 30 * i, outcome)
    assert notes == []


def test_flapping_condition_without_for_fires_and_resolves_each_time() -> None:
    h = Harness(only("inconsistency"))
    notes = []
    for i in range(4):
        outcome = result("fail", kinds=("stale",)) if i % 2 == 0 else result("pass")
        notes += h.run(T0 + 30 * i, outcome)
    assert [n.status for n in notes] == ["firing", "resolved", "firing", "resolved"]


def test_sync_latency_needs_consecutive_slow_runs() -> None:
    h = Harness(only("sync_latency", threshold="1s", runs=3))
    assert h.run(T0, result(latency=1.5)) == []
    assert h.run(T0 + 30, result(latency=0.2)) == []
    assert h.run(T0 + 60, result(latency=1.5)) == []
    assert h.run(T0 + 90, result(latency=1.2)) == []
    notes = h.run(T0 + 120, result(latency=1.3))
    assert summary(notes) == [("firing", "ConsistencySyncLatencyHigh", None, False)]
    assert "1.300 s" in notes[0].alert.annotations["description"]
    assert "1 s" in notes[0].alert.annotations["description"]
    assert summary(h.run(T0 + 150, result(latency=0.1))) == [
        ("resolved", "ConsistencySyncLatencyHigh", None, False)
    ]


def test_success_ratio_below_threshold_over_last_runs() -> None:
    h = Harness(only("success_ratio", threshold=0.75, runs=4))
    outcomes = ["pass", "fail", "pass", "pass"]  # 75 %: not below
    notes = [n for i, o in enumerate(outcomes) for n in h.run(T0 + 30 * i, result(o))]
    assert notes == []
    notes = h.run(T0 + 120, result("fail"))  # last 4: fail pass pass fail = 50 %
    assert summary(notes) == [("firing", "ConsistencySuccessRatioLow", None, False)]
    assert "50%" in notes[0].alert.annotations["description"]


def test_probe_errors_after_n_consecutive_errors_only() -> None:
    h = Harness(only("probe_errors", runs=2))
    assert h.run(T0, result("error")) == []
    assert h.run(T0 + 30, result("fail")) == []
    assert h.run(T0 + 60, result("error")) == []
    assert summary(h.run(T0 + 90, result("error"))) == [
        ("firing", "ConsistencyProbeErrors", None, False)
    ]


def test_stale_probe_fires_when_no_run_completes_for_k_intervals() -> None:
    h = Harness(only("stale_probe", intervals=3))
    assert h.tick(T0 + 89) == []
    assert summary(h.tick(T0 + 91)) == [("firing", "ConsistencyProbeStale", None, False)]
    assert summary(h.run(T0 + 95, result(at=T0 + 95))) == [
        ("resolved", "ConsistencyProbeStale", None, False)
    ]


def test_silenced_alert_fires_muted_then_notifies_when_the_silence_expires() -> None:
    silence = Silence("s1", {"target": "sim"}, ends_at=T0 + 100)
    h = Harness(only("inconsistency"), silences=(silence,))
    assert summary(h.run(T0, result("fail", kinds=("orphan",)))) == [
        ("firing", "ConsistencyInconsistency", "orphan", True)
    ]
    assert h.run(T0 + 30, result("fail", kinds=("orphan",))) == []
    assert summary(h.tick(T0 + 101)) == [("firing", "ConsistencyInconsistency", "orphan", False)]
    assert summary(h.run(T0 + 130, result("pass"))) == [
        ("resolved", "ConsistencyInconsistency", "orphan", False)
    ]


def test_resolution_of_an_alert_fired_under_silence_is_muted_too() -> None:
    silence = Silence("s1", {"alertname": "ConsistencyInconsistency"})
    h = Harness(only("inconsistency"), silences=(silence,))
    h.run(T0, result("fail", kinds=("missing",)))
    assert summary(h.run(T0 + 30, result("pass"))) == [
        ("resolved", "ConsistencyInconsistency", "missing", True)
    ]


def test_silence_matching_another_target_does_not_mute() -> None:
    silence = Silence("s1", {"target": "other"})
    h = Harness(only("inconsistency"), silences=(silence,))
    assert [n.silenced for n in h.run(T0, result("fail", kinds=("missing",)))] == [False]


def test_two_kinds_are_two_alerts() -> None:
    h = Harness(only("inconsistency"))
    notes = h.run(T0, result("fail", kinds=("missing", "duplicate")))
    assert sorted(n.alert.labels["kind"] for n in notes) == ["duplicate", "missing"]


def test_results_of_unknown_jobs_are_ignored() -> None:
    h = Harness(only("inconsistency"))
    other = ProbeResult(
        "elsewhere",
        "create_sync",
        "fail",
        T0,
        0.1,
        inconsistencies=(Inconsistency("missing", "x"),),
    )
    assert h.run(T0, other) == []


def two_jobs_with_alerts() -> EngineState:
    """Jobs a and b, each with a firing `missing` alert."""
    rules = only("inconsistency")
    jobs = [("a", "create_sync", INTERVAL), ("b", "create_sync", INTERVAL)]
    state = with_jobs(EngineState(), jobs, T0)
    for seq, target in enumerate(("a", "b"), start=1):
        found = (Inconsistency("missing", "x"),)
        res = ProbeResult(target, "create_sync", "fail", T0, 0.1, inconsistencies=found)
        state = observe(state, seq, res, rules)
    state, notes = evaluate(state, T0, rules)
    assert len(notes) == 2
    return state


def test_evaluating_one_job_moves_only_that_jobs_alerts() -> None:
    rules = only("inconsistency")
    state = two_jobs_with_alerts()
    for seq, target in enumerate(("a", "b"), start=3):
        state = observe(state, seq, ProbeResult(target, "create_sync", "pass", T0 + 30, 0.1), rules)
    state, notes = evaluate(state, T0 + 30, rules, only=("a", "create_sync"))
    assert [(n.status, n.alert.labels["target"]) for n in notes] == [("resolved", "a")]
    assert [a.labels["target"] for a in state.alerts.values()] == ["b"]
    state, notes = evaluate(state, T0 + 31, rules)
    assert [(n.status, n.alert.labels["target"]) for n in notes] == [("resolved", "b")]


def test_evaluating_an_unknown_job_changes_nothing() -> None:
    state = two_jobs_with_alerts()
    after, notes = evaluate(state, T0 + 30, only("inconsistency"), only=("gone", "create_sync"))
    assert (after.alerts, notes) == (state.alerts, [])


def test_a_jobs_alerts_are_tracked_as_its_kinds_change() -> None:
    rules = only("inconsistency")
    state = two_jobs_with_alerts()
    job = ("a", "create_sync")
    stale = (Inconsistency("stale", "y"),)
    result = ProbeResult("a", "create_sync", "fail", T0 + 30, 0.1, inconsistencies=stale)
    state = observe(state, 3, result, rules)
    state, notes = evaluate(state, T0 + 30, rules, only=job)
    assert [(n.status, n.alert.labels["kind"]) for n in notes] == [
        ("firing", "stale"),
        ("resolved", "missing"),
    ]
    assert {dict(k)["kind"] for k in state.by_job[job]} == {"stale"}
    assert {a.labels["target"] for a in state.alerts.values()} == {"a", "b"}
    state, notes = evaluate(state, T0 + 31, rules)  # the timer: nothing resolves twice
    assert notes == []
    assert state.by_job[job] == frozenset(
        a.key for a in state.alerts.values() if a.labels["target"] == "a"
    )
