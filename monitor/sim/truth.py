"""Ground truth: when each change became visible in Backend, and every fault that fired.

Kept apart from the adapters: probes never read it; tests and benchmarks score the
probes against it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 20_000  # records kept, so a long-running simulator stays within bounded memory


@dataclass
class FaultRecord:
    """One fault that fired, on which user and operation; `observable` is decided later."""

    fault: str
    user_id: str | None
    operation: str
    at: float
    version: int = 0
    damage: dict[str, int] = field(default_factory=dict)  # field -> stamp of its damaged value
    observable: bool | None = None  # None until judged (see GroundTruth.judge)
    during_cleanup: bool = False


@dataclass
class Visibility:
    """A change event and when it became visible in Backend (None: never)."""

    op: str
    user_id: str
    version: int
    emitted_at: float
    visible_at: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.visible_at is None else self.visible_at - self.emitted_at


Judge = Callable[[FaultRecord], bool]


@dataclass
class GroundTruth:
    """Everything that really happened in the simulator, for scoring probes."""

    limit: int = LIMIT  # records of each kind kept, the oldest go first; 0 keeps nothing
    faults: deque[FaultRecord] = field(default_factory=deque)
    changes: dict[int, Visibility] = field(default_factory=dict)
    _cleaned: dict[str, None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.faults = deque(self.faults, maxlen=self.limit)

    def emitted(self, seq: int, op: str, user_id: str, version: int, at: float) -> None:
        if not self.limit:
            return
        self.changes[seq] = Visibility(op, user_id, version, at)
        _trim(self.changes, self.limit)

    def visible(self, seq: int, at: float) -> None:
        change = self.changes.get(seq)
        if change is not None and change.visible_at is None:
            change.visible_at = at

    def swept(self, user_id: str, at: float) -> None:
        """The orphan sweeper removed a user: its lost deletions became visible now."""
        for change in self.changes.values():
            if change.user_id == user_id and change.op == "delete" and change.visible_at is None:
                change.visible_at = at

    def fired(
        self,
        fault: str,
        user_id: str | None,
        operation: str,
        at: float,
        version: int = 0,
        damage: dict[str, int] | None = None,
    ) -> None:
        if not self.limit:
            return
        record = FaultRecord(fault, user_id, operation, at, version, dict(damage or {}))
        record.during_cleanup = user_id in self._cleaned
        self.faults.append(record)

    def judge(self, user_ids: Iterable[str], judge: Judge) -> None:
        """Decide observability of the not yet judged faults on these users, now."""
        ids = set(user_ids)
        for record in self.faults:
            if record.user_id in ids and record.observable is None and not record.during_cleanup:
                record.observable = judge(record)

    def cleanup_started(self, user_ids: Iterable[str], judge: Judge) -> None:
        """Judge the faults on these users as the probe's waits ended; later ones are
        `during_cleanup`."""
        if not self.limit:
            return
        ids = list(user_ids)
        self.judge(ids, judge)
        self._cleaned.update(dict.fromkeys(ids))
        _trim(self._cleaned, self.limit)

    def latency_of(self, user_id: str, op: str) -> list[float | None]:
        return [c.latency for c in self.changes.values() if c.user_id == user_id and c.op == op]

    def clear(self) -> None:
        self.faults.clear()
        self.changes.clear()
        self._cleaned.clear()


def _trim(ordered: dict[K, V], limit: int) -> None:
    while len(ordered) > limit:
        del ordered[next(iter(ordered))]
