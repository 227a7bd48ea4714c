"""ProbeResult and its parts: the one currency between probes and everything else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["pass", "fail", "error"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "error")
KINDS = ("missing", "stale", "cascade", "orphan", "duplicate", "partial", "rollback", "slow")
OPERATIONS = ("create", "update", "delete")


@dataclass(frozen=True, slots=True)
class Inconsistency:
    """One disagreement between Auth and Backend, named by its kind."""

    kind: str
    detail: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown inconsistency kind {self.kind!r}")


@dataclass(frozen=True, slots=True)
class Step:
    """One timed adapter call (`auth.create`) or convergence wait (`backend.wait_create`)."""

    name: str
    seconds: float
    started: float = field(default=0.0, compare=False)  # monotonic, for ground-truth scoring


@dataclass(frozen=True, slots=True)
class Sync:
    """One observed propagation: seconds from Auth's acknowledgement to first visible read."""

    operation: str
    seconds: float | None
    reads: int
    acked: float = field(default=0.0, compare=False)  # monotonic instant of Auth's ack


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Everything one probe run found out."""

    target: str
    probe: str
    outcome: Outcome
    started_at: float  # wall-clock unix seconds
    duration_seconds: float
    syncs: tuple[Sync, ...] = ()
    steps: tuple[Step, ...] = ()
    inconsistencies: tuple[Inconsistency, ...] = ()
    error: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")

    @property
    def kinds(self) -> frozenset[str]:
        # one shared empty set: the alert rules keep the kinds of every job's recent runs
        return frozenset(i.kind for i in self.inconsistencies) if self.inconsistencies else NO_KINDS


NO_KINDS: frozenset[str] = frozenset()


def outcome_of(inconsistencies: Iterable[Inconsistency], error: str | None) -> Outcome:
    """Precedence: error > fail > pass."""
    if error is not None:
        return "error"
    return "fail" if any(True for _ in inconsistencies) else "pass"


def utc_iso(ts: float) -> str:
    """`2024-05-01T12:00:00.250Z`: UTC, milliseconds, as JSON consumers expect."""
    moment = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def result_to_dict(result: ProbeResult) -> dict[str, Any]:
    """The one serialiser of results, shared by `check --format json`, the API and webhooks."""
    return {
        "target": result.target,
        "probe": result.probe,
        "outcome": result.outcome,
        "started_at": utc_iso(result.started_at),
        "duration_seconds": _seconds(result.duration_seconds),
        "syncs": [
            {"operation": s.operation, "seconds": _seconds(s.seconds), "reads": s.reads}
            for s in result.syncs
        ],
        "steps": [{"name": s.name, "seconds": _seconds(s.seconds)} for s in result.steps],
        "inconsistencies": [{"kind": i.kind, "detail": i.detail} for i in result.inconsistencies],
        "error": result.error,
    }


def report_to_dict(results: Iterable[ProbeResult]) -> dict[str, Any]:
    """A whole report: `ok` is true only when every result passed."""
    items = [result_to_dict(r) for r in results]
    return {"ok": all(i["outcome"] == "pass" for i in items), "results": items}


def result_from_dict(data: Mapping[str, Any]) -> ProbeResult:
    """Inverse of `result_to_dict` (monotonic instants are not serialised).

    Raises ValueError for an unknown outcome or inconsistency kind, KeyError for a missing key.
    """
    started = dt.datetime.strptime(data["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    found = data["inconsistencies"]
    return ProbeResult(
        target=data["target"],
        probe=data["probe"],
        outcome=data["outcome"],
        started_at=started.replace(tzinfo=dt.UTC).timestamp(),
        duration_seconds=data["duration_seconds"],
        syncs=tuple(Sync(s["operation"], s["seconds"], s["reads"]) for s in data["syncs"]),
        steps=tuple(Step(s["name"], s["seconds"]) for s in data["steps"]),
        inconsistencies=tuple(Inconsistency(i["kind"], i["detail"]) for i in found),
        error=data["error"],
    )
