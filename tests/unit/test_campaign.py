"""The fault campaign (bench/campaign.py), short and seeded, and the rules it scores by.

1500 cycles with faults switched on and off at random, in random mixes and
probabilities, several at once, through the four delay profiles (Backend reads that
take 20 ms among them): on virtual time they take a couple of seconds. Any miss, false
alarm or unjustified error fails the test, with the run's number to replay it
(`python -m bench campaign --seed 8 --cycles N`).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.campaign import PROFILES, SWITCHES, Plan, faults_document, in_process, random_mix
from bench.campaign_http import fault_of, judge_after_deletion
from bench.campaign_report import write_campaign
from bench.fault_scoring import FAULT_CLASSES, Run, Tally, judge, own, problems
from monitor.config import FaultsConfig
from monitor.results import Inconsistency, Outcome, ProbeResult, Sync
from monitor.settings import Deadlines
from monitor.sim.truth import FaultRecord, Visibility
from monitor.vtime import run_virtual

SEED = 8
CYCLES = 1500
DEADLINES = Deadlines()


@pytest.fixture(scope="module")
def campaign() -> Tally:
    return run_virtual(in_process(Plan(CYCLES, SEED)))


def test_the_seeded_campaign_misses_nothing_and_raises_no_false_alarm(campaign: Tally) -> None:
    assert campaign.problems == []
    assert campaign.runs == CYCLES


def test_the_seeded_campaign_meets_every_fault_class_and_delay_profile(campaign: Tally) -> None:
    unmet = [name for name in FAULT_CLASSES if not campaign.classes[name].due]
    assert unmet == []
    assert {Plan(CYCLES).profile_of(n) for n in range(CYCLES)} == set(PROFILES)


def test_every_error_of_the_campaign_is_justified_by_an_auth_error(campaign: Tally) -> None:
    assert campaign.errors > 0
    assert campaign.justified_errors == campaign.errors


def test_on_virtual_time_every_fault_and_late_change_is_decided(campaign: Tally) -> None:
    assert (campaign.unjudged, campaign.undecided) == (0, 0)


def test_fault_mixes_are_valid_fault_configs_and_cover_every_switch() -> None:
    rng = random.Random(1)
    mixes = [random_mix(rng) for _ in range(300)]

    for mix in mixes:
        FaultsConfig.model_validate(faults_document(mix))
    assert {name for mix in mixes for name in mix} == set(SWITCHES)
    assert {} in mixes and any(len(mix) > 1 for mix in mixes)


# -- the scoring rules, on runs made up to show each one ----------------------------------


def result(
    probe: str, *kinds: str, outcome: Outcome | None = None, syncs: tuple[Sync, ...] = ()
) -> ProbeResult:
    found = tuple(Inconsistency(kind, "made up") for kind in kinds)
    chosen: Outcome = outcome or ("fail" if kinds else "pass")
    return ProbeResult("sim", probe, chosen, 0.0, 1.0, syncs=syncs, inconsistencies=found)


def fault(name: str, op: str, *, observable: bool = True, cleanup: bool = False) -> FaultRecord:
    return FaultRecord(name, "u-1", op, 1.0, 2, observable=observable, during_cleanup=cleanup)


def run(res: ProbeResult, *faults: FaultRecord, changes: tuple[Visibility, ...] = ()) -> Run:
    return Run(1, res.probe, res, faults, changes, DEADLINES)


@pytest.mark.parametrize(
    ("op", "kind", "probe"),
    [("create", "missing", "create_sync"), ("update", "stale", "update_propagation"),
     ("delete", "orphan", "delete_cascade")],
)  # fmt: skip
def test_a_dropped_event_must_be_reported_with_the_kind_of_its_operation(
    op: str, kind: str, probe: str
) -> None:
    caught = judge(run(result(probe, kind), fault("drop_sync", op)))
    missed = judge(run(result(probe), fault("drop_sync", op)))

    assert (set(caught.true_positives), set(caught.false_negatives)) == ({kind}, set())
    assert missed.false_negatives == {kind}
    assert missed.caught == ((f"drop_sync.{op}", False),)


def test_a_kind_without_an_observable_fault_is_a_false_positive() -> None:
    overtaken = fault("drop_sync", "update", observable=False)

    verdict = judge(run(result("update_propagation", "stale"), overtaken))

    assert verdict.false_positives == {"stale"}
    assert verdict.caught == ()


def test_a_fault_during_cleanup_is_outside_the_score() -> None:
    late = fault("skip_cascade", "delete", cleanup=True)

    verdict = judge(run(result("create_sync"), late))

    assert not verdict.expected
    assert problems(run(result("create_sync"), late), verdict) == []


def test_a_run_auth_failed_must_be_an_error_and_is_scored_for_precision_only() -> None:
    auth = fault("auth_errors", "update")
    dropped = fault("drop_sync", "create")

    errored = judge(run(result("update_propagation", outcome="error"), auth, dropped))
    passed = run(result("update_propagation"), auth, dropped)

    assert errored.false_negatives == set() and errored.caught == (("auth_errors", True),)
    assert problems(passed, judge(passed)) == ["auth answered an error but the outcome is pass"]


def test_an_error_without_an_auth_error_is_unjustified() -> None:
    errored = run(result("create_sync", outcome="error"))

    verdict = judge(errored)

    assert (verdict.error, verdict.justified_error) == (True, False)
    assert problems(errored, verdict) == ["error without an auth error: None"]


def test_slow_must_be_reported_for_a_change_the_run_waited_for_that_came_late() -> None:
    late = Visibility("create", "u-1", 1, emitted_at=10.0, visible_at=11.5)
    waited = (Sync("create", 1.5, 3, acked=10.0),)

    missed = judge(run(result("create_sync", syncs=waited), changes=(late,)))
    caught = judge(run(result("create_sync", "slow", syncs=waited), changes=(late,)))

    assert missed.false_negatives == {"slow"}
    assert caught.true_positives == {"slow"}
    assert caught.caught == (("slow propagation", True),)


def test_slow_is_not_owed_for_an_update_that_landed_damaged() -> None:
    late = Visibility("update", "u-1", 2, emitted_at=10.0, visible_at=11.5)
    waited = (Sync("update", None, 40, acked=10.0),)

    verdict = judge(
        run(result("partial_update", "partial", syncs=waited), fault("clobber_update", "update"),
            changes=(late,))
    )  # fmt: skip

    assert verdict.expected == {"partial"}
    assert not verdict.false_positives


def test_slow_without_a_late_change_is_a_false_positive_except_for_load_over_budget() -> None:
    quick = (Visibility("create", "u-1", 1, emitted_at=10.0, visible_at=10.1),)
    over_budget = ProbeResult("sim", "load", "fail", 0.0, 3.5, inconsistencies=(
        Inconsistency("slow", "budget spent"),))  # fmt: skip

    assert judge(run(result("create_sync", "slow"), changes=quick)).false_positives == {"slow"}
    assert judge(run(over_budget, changes=quick)).false_positives == set()


def test_a_late_event_of_an_earlier_run_is_not_the_next_runs() -> None:
    earlier: set[str] = set()
    own([fault("drop_sync", "create")], [], earlier)

    create_failed = FaultRecord("auth_errors", None, "create", 2.0)  # no user yet

    faults, _ = own([fault("skip_cascade", "delete"), create_failed], [], earlier)

    assert faults == (create_failed,)  # u-1 was the earlier run's


def test_over_http_a_fault_after_its_users_deletion_is_judged_as_of_the_cleanup() -> None:
    def served(fault: str, op: str, at: float) -> FaultRecord:
        data = {"fault": fault, "user_id": "u-1", "operation": op, "at": at, "version": 1,
                "observable": None, "during_cleanup": False}  # fmt: skip
        return fault_of(data, cleanup_at=20.0)

    swept = (Visibility("delete", "u-1", 1, emitted_at=10.0, visible_at=12.0),)
    judged = [
        judge_after_deletion(served("skip_cascade", "delete", 11.0), (), 20.0),
        judge_after_deletion(served("drop_sync", "delete", 11.0), (), 20.0),
        judge_after_deletion(served("drop_sync", "delete", 11.0), swept, 20.0),
        judge_after_deletion(served("skip_cascade", "delete", 21.0), (), 20.0),
    ]

    assert [(f.observable, f.during_cleanup) for f in judged] == [
        (True, False), (True, False), (False, False), (None, True)
    ]  # fmt: skip


def test_writing_one_flavour_keeps_the_other(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\n<!-- bench:other -->\nkept\n<!-- /bench:other -->\n")

    write_campaign("http", "### Over HTTP: first", path)
    write_campaign("in-process", "### In-process: second", path)
    write_campaign("http", "### Over HTTP: third", path)

    text = path.read_text()
    assert "kept" in text and "second" in text and "third" in text and "first" not in text
    assert text.count("<!-- bench:campaign -->") == 1
