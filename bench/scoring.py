"""Scoring measured syncs against the simulator's ground truth.

A run on one world is scored from the change events emitted while it ran: each `Sync`
is matched to the latest event of its operation emitted by its ack (in-process, Auth
emits the event and acknowledges in the same instant), on a user created in that run.
The error is the measured latency minus the event's true latency.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.report import percentile
from monitor.results import Sync
from monitor.sim.truth import GroundTruth, Visibility

ACK_TOLERANCE = 0.02  # an ack this far after its event means a wrong match (or a stall)


@dataclass(frozen=True)
class Sample:
    """One sync observation next to the truth about the change it waited for."""

    op: str
    user_id: str
    measured: float
    truth: float
    reads: int
    ack_offset: float  # the ack instant minus the emission instant

    @property
    def error(self) -> float:
        return abs(self.measured - self.truth)


@dataclass(frozen=True)
class Scored:
    """The samples of one run or more, and how many syncs could not be scored."""

    samples: list[Sample]
    unscored: int = 0

    def __add__(self, other: Scored) -> Scored:
        return Scored(self.samples + other.samples, self.unscored + other.unscored)


def last_seq(truth: GroundTruth) -> int:
    """The sequence number of the newest change event so far (0 before any)."""
    return next(reversed(truth.changes), 0)


def score(syncs: Sequence[Sync], truth: GroundTruth, since: int) -> Scored:
    """Match each sync to its change event among those emitted after `since`."""
    changes = [c for seq, c in truth.changes.items() if seq > since]
    created = {c.user_id for c in changes if c.op == "create"}
    matched = [(s, _event_of(s, changes, created)) for s in syncs]
    samples = [x for s, e in matched if e and (x := _sample(s, e))]
    return Scored(samples, len(syncs) - len(samples))


def _event_of(sync: Sync, changes: list[Visibility], created: set[str]) -> Visibility | None:
    candidates = [
        c
        for c in changes
        if c.op == sync.operation and c.user_id in created and c.emitted_at <= sync.acked
    ]
    event = max(candidates, key=lambda c: c.emitted_at, default=None)
    if event is None or sync.acked - event.emitted_at > ACK_TOLERANCE:
        return None
    return event


def _sample(sync: Sync, event: Visibility) -> Sample | None:
    if sync.seconds is None or event.latency is None:
        return None
    offset = sync.acked - event.emitted_at
    return Sample(sync.operation, event.user_id, sync.seconds, event.latency, sync.reads, offset)


@dataclass(frozen=True)
class Summary:
    """Absolute error and read cost over a set of samples (seconds, reads per sync)."""

    count: int
    by_op: dict[str, int]
    p50: float
    p99: float
    max: float
    mean_reads: float
    unscored: int
    max_ack_offset: float


def summarise(scored: Scored) -> Summary:
    samples = scored.samples
    errors = [s.error for s in samples]
    ops: dict[str, int] = {}
    for s in samples:
        ops[s.op] = ops.get(s.op, 0) + 1
    return Summary(
        count=len(samples),
        by_op=ops,
        p50=percentile(errors, 50),
        p99=percentile(errors, 99),
        max=max(errors, default=float("nan")),
        mean_reads=statistics.fmean([s.reads for s in samples]) if samples else float("nan"),
        unscored=scored.unscored,
        max_ack_offset=max((s.ack_offset for s in samples), default=0.0),
    )


def by_op(scored: Scored, ops: Sequence[str]) -> dict[str, Summary]:
    """The summary of each operation's samples on its own."""
    return {op: summarise(Scored([s for s in scored.samples if s.op == op])) for op in ops}
