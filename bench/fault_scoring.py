"""Scoring the kinds probes report against the simulator's fault ground truth.

The rules of the fault table (issue 3) and the fault campaign (issue 8), in one place
for the campaign benchmark and the test suite:

- every *observable* fault that fired during a run, outside its cleanup, must be
  reported with its kind (`drop_sync` by operation: missing, stale, orphan);
- a change the run waited for that became visible after `deadlines.sync`, but by
  `give_up`, must be reported as `slow`, unless it landed damaged or was overwritten
  by a reordered one (then the probe reports what Backend shows: partial, stale);
- a reported kind without such a cause is a false positive; `slow` is justified by any
  change of the run taking longer than `deadlines.sync`, and for `load` also by the
  run outlasting `deadlines.load`;
- a run in which Auth answered an error (`auth_errors`, outside cleanup) must end in
  `error`, and what it reports is scored for precision only;
- an `error` outcome is justified when `auth_errors` fired at all during the run.

Some things stay open rather than scored: a fault the ground truth could not judge
(over HTTP; its kind may be reported, need not be), and, on the real clock only, a
late change whose arrival the probe's reads bracket across the deadline because the
event loop ran late (it may be `slow`, need not be).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.probes import REGISTRY
from monitor.results import KINDS, ProbeResult, Sync
from monitor.settings import Deadlines
from monitor.sim.truth import FaultRecord, Visibility

KIND_OF_FAULT = {
    "duplicate_sync": "duplicate",
    "skip_cascade": "cascade",
    "partial_update": "partial",
    "clobber_update": "partial",
    "reorder_sync": "stale",
    "half_commit": "missing",
    "non_atomic_rollback": "rollback",
    "no_orphan_sweep": "orphan",
}
KIND_OF_DROP = {"create": "missing", "update": "stale", "delete": "orphan"}
SLOW = "slow propagation"  # the fault class of a change later than deadlines.sync
AUTH_ERRORS = "auth_errors"
FAULT_CLASSES = (
    *(f"drop_sync.{op}" for op in KIND_OF_DROP),
    *KIND_OF_FAULT,
    AUTH_ERRORS,
    SLOW,
)
# After these an update lands, but not as sent, or is at once overwritten by an older
# one: the probe must report what Backend shows, not when the update landed.
RESHAPING = ("partial_update", "clobber_update", "reorder_sync")
IN_PROCESS_ACK = 1e-6  # in-process, Auth emits a change in the instant it acknowledges it
_KINDED = {"drop_sync", *KIND_OF_FAULT}


def kind_of(record: FaultRecord) -> str:
    """The kind a probe must report for this fault (auth_errors has none: `error`)."""
    if record.fault == "drop_sync":
        return KIND_OF_DROP[record.operation]
    return KIND_OF_FAULT[record.fault]


def fault_class(record: FaultRecord) -> str:
    """`drop_sync.update`, `skip_cascade`: the fault, and the operation where it matters."""
    return f"drop_sync.{record.operation}" if record.fault == "drop_sync" else record.fault


@dataclass(frozen=True)
class Run:
    """One probe run and what the ground truth recorded about its users while it ran.

    Times are on the simulator's monotonic clock, which is the probe's (in-process, or
    the same machine). `tolerance` is how far behind a read's start the state it shows
    may be (the read's own latency, on the real clock its round trip); lateness within
    it of a deadline is neither owed nor forbidden.
    """

    number: int
    probe: str
    result: ProbeResult
    faults: tuple[FaultRecord, ...]
    changes: tuple[Visibility, ...]
    deadlines: Deadlines
    cleanup_at: float | None = None  # when the run's cleanup began (None: unknown)
    tolerance: float = 0.0
    real_clock: bool = False  # the loop may lag, and an ack comes after its emission

    @property
    def auth_failed(self) -> bool:
        """Auth answered an error during the check itself (not during cleanup)."""
        return any(f.fault == AUTH_ERRORS and not f.during_cleanup for f in self.faults)

    @property
    def observable(self) -> list[FaultRecord]:
        """The faults the run had to report: observable, outside cleanup, with a kind."""
        return [f for f in self._scored if f.observable]

    @property
    def unjudged(self) -> list[FaultRecord]:
        """Faults outside cleanup whose observability the ground truth never decided."""
        return [f for f in self._scored if f.observable is None]

    @property
    def _scored(self) -> list[FaultRecord]:
        return [f for f in self.faults if not f.during_cleanup and f.fault in _KINDED]

    def before_cleanup(self, at: float) -> bool:
        return self.cleanup_at is None or at < self.cleanup_at


def own(
    faults: Iterable[FaultRecord], changes: Iterable[Visibility], earlier: set[str]
) -> tuple[tuple[FaultRecord, ...], tuple[Visibility, ...]]:
    """A run's own faults and changes: those on users no earlier run had (a late event
    of an earlier run may land during this one). `earlier` gains this run's users."""
    mine = tuple(f for f in faults if f.user_id not in earlier)
    seen = tuple(c for c in changes if c.user_id not in earlier)
    earlier |= {f.user_id for f in mine if f.user_id} | {c.user_id for c in seen}
    return mine, seen


@dataclass(frozen=True)
class Verdict:
    """One run judged: the kinds it had to report, those it was allowed to, and why."""

    reported: frozenset[str]
    expected: frozenset[str]  # must be reported (unless precision_only)
    allowed: frozenset[str]  # may be reported
    precision_only: bool  # Auth failed the run: what it did report must be true
    caught: tuple[tuple[str, bool], ...]  # (fault class, reported?) per fault to catch
    error: bool  # the outcome is `error`
    justified_error: bool  # auth_errors fired during the run
    unmatched: int  # syncs without a change event (a transaction writes both at once)
    undecided: int  # late changes whose lateness the real clock left open
    unjudged: int  # faults whose observability the ground truth left open

    @property
    def true_positives(self) -> frozenset[str]:
        return self.reported & self.allowed

    @property
    def false_positives(self) -> frozenset[str]:
        return self.reported - self.allowed

    @property
    def false_negatives(self) -> frozenset[str]:
        return frozenset() if self.precision_only else self.expected - self.reported


def judge(run: Run) -> Verdict:
    """Everything right and wrong about one run, against its ground truth."""
    reported = frozenset(run.result.kinds)
    owed, unmatched, undecided = _slow_owed(run, reported)
    expected = frozenset({kind_of(f) for f in run.observable} | ({"slow"} if owed else set()))
    open_kinds = {kind_of(f) for f in run.unjudged} | ({"slow"} if _slow_justified(run) else set())
    return Verdict(
        reported,
        expected,
        expected | open_kinds,
        run.auth_failed,
        _caught(run, reported, owed),
        run.result.outcome == "error",
        any(f.fault == AUTH_ERRORS for f in run.faults),
        unmatched,
        undecided,
        len(run.unjudged),
    )


def _caught(run: Run, reported: frozenset[str], owed: list[Sync]) -> tuple[tuple[str, bool], ...]:
    """(fault class, caught?) for every fault the run had to catch: when Auth failed it,
    only the `error` outcome; otherwise each observable fault and each late change."""
    if run.auth_failed:
        return ((AUTH_ERRORS, run.result.outcome == "error"),)
    faults = tuple((fault_class(f), kind_of(f) in reported) for f in run.observable)
    return faults + tuple((SLOW, "slow" in reported) for _ in owed)


def problems(run: Run, v: Verdict) -> list[str]:
    """The verdict's failures in words, for a test's assertion or the campaign's log."""
    found = []
    if strays := v.reported - set(REGISTRY[run.probe].KINDS):
        found.append(f"kinds outside the probe's KINDS: {sorted(strays)}")
    if run.auth_failed and run.result.outcome != "error":
        found.append(f"auth answered an error but the outcome is {run.result.outcome}")
    if v.false_negatives:
        found.append(f"missed {sorted(v.false_negatives)}")
    for kind in sorted(v.false_positives):
        if kind == "slow":
            found.append(f"false alarm slow: no change took longer than {run.deadlines.sync:g} s")
        else:
            found.append(f"false alarm {kind} without an observable fault")
    if v.error and not v.justified_error:
        found.append(f"error without an auth error: {run.result.error}")
    return found


# -- slow ----------------------------------------------------------------------------------


def _slow_justified(run: Run) -> bool:
    """Some change of the run took longer than `sync`, or `load` outlasted its budget."""
    limit = run.deadlines.sync - run.tolerance
    if any(
        c.latency is not None and c.latency > limit and run.before_cleanup(c.emitted_at)
        for c in run.changes
    ):
        return True
    return run.probe == "load" and run.result.duration_seconds > run.deadlines.load


def _slow_owed(run: Run, reported: frozenset[str]) -> tuple[list[Sync], int, int]:
    """The syncs that owe `slow`: their change arrived after `sync` but by `give_up`,
    counted from the ack as the probe measures. Also how many syncs had no change in the
    ground truth, and how many late ones the real clock left open."""
    owed, unmatched, undecided = [], 0, 0
    for sync in run.result.syncs:
        found = _changes_of(sync, run)
        if not found:
            unmatched += 1
        elif not all(_late(sync, c, run) for c in found):
            continue
        elif _seen_early(sync, found, run) or (_straddled(sync, run) and "slow" not in reported):
            undecided += 1
        else:
            owed.append(sync)
    return owed, unmatched, undecided


def _changes_of(sync: Sync, run: Run) -> list[Visibility]:
    """The changes Auth emitted as it acknowledged this sync's operation (several when
    concurrent operations were acknowledged together)."""
    window = run.tolerance if run.real_clock else IN_PROCESS_ACK
    return [
        c
        for c in run.changes
        if c.op == sync.operation and sync.acked - window <= c.emitted_at <= sync.acked + window
    ]


def _late(sync: Sync, change: Visibility, run: Run) -> bool:
    if change.visible_at is None or _reshaped(change, run):
        return False
    after, d, tol = change.visible_at - sync.acked, run.deadlines, run.tolerance
    return d.sync + tol < after <= d.give_up - tol


def _reshaped(change: Visibility, run: Run) -> bool:
    """A fault reshaped this update or an earlier one of the user (a probe stops at the
    first update that does not arrive as sent)."""
    return any(
        f.fault in RESHAPING
        and (f.user_id, f.operation) == (change.user_id, change.op)
        and f.version <= change.version
        for f in run.faults
    )


def _seen_early(sync: Sync, changes: list[Visibility], run: Run) -> bool:
    """A read begun before the change became visible saw it: it was answered late."""
    seen = sync.seconds
    return seen is not None and all(
        c.visible_at is not None and c.visible_at - sync.acked > seen + run.tolerance
        for c in changes
    )


def _straddled(sync: Sync, run: Run) -> bool:
    """On the real clock, the first read to see the change began past the deadline
    (plus tolerance): the read meant for the deadline ran late, and the last one that
    missed it began before the deadline, so either side of it is possible."""
    seen = sync.seconds
    return run.real_clock and seen is not None and seen > run.deadlines.sync + run.tolerance


# -- the campaign's table -----------------------------------------------------------------


@dataclass
class Counts:
    """True and false positives and false negatives of one kind, counted in runs."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None


@dataclass
class Caught:
    """How many faults of one class had to be caught, and how many were."""

    due: int = 0
    caught: int = 0

    @property
    def recall(self) -> float | None:
        return self.caught / self.due if self.due else None


@dataclass
class Tally:
    """A campaign's verdicts summed up: per kind, per fault class, per outcome."""

    kinds: dict[str, Counts] = field(default_factory=lambda: {k: Counts() for k in KINDS})
    classes: dict[str, Caught] = field(default_factory=lambda: {c: Caught() for c in FAULT_CLASSES})
    runs: int = 0
    precision_only: int = 0
    errors: int = 0
    justified_errors: int = 0
    unmatched: int = 0
    undecided: int = 0
    unjudged: int = 0
    problems: list[str] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # numbers of the runs with problems

    def add(self, run: Run, verdict: Verdict) -> None:
        self.runs += 1
        self.precision_only += verdict.precision_only
        self.errors += verdict.error
        self.justified_errors += verdict.error and verdict.justified_error
        self.unmatched += verdict.unmatched
        self.undecided += verdict.undecided
        self.unjudged += verdict.unjudged
        for kind in verdict.true_positives:
            self.kinds[kind].tp += 1
        for kind in verdict.false_positives:
            self.kinds[kind].fp += 1
        for kind in verdict.false_negatives:
            self.kinds[kind].fn += 1
        for name, caught in verdict.caught:
            self.classes[name].due += 1
            self.classes[name].caught += caught
        if found := problems(run, verdict):
            self.problems += [describe(run, why) for why in found]
            self.failed.append(run.number)

    @property
    def faults_due(self) -> int:
        return sum(c.due for c in self.classes.values())


def describe(run: Run, why: str) -> str:
    """One problem with what it takes to replay it: run, probe, faults, findings."""
    faults = [
        (f.fault, f.operation, f.observable, "cleanup" if f.during_cleanup else "")
        for f in run.faults
    ]
    found = [(i.kind, i.detail) for i in run.result.inconsistencies]
    return f"{run.probe} run {run.number}: {why} (faults: {faults}; found: {found})"
