"""What the Backend's own code does with a change event: a plan of writes, decided from
what Backend holds of the user, with the faults that fire on it recorded in ground truth.

Planning is apart from storage so the in-memory Backend and the PostgreSQL one share
the rules and roll the fault dice in the same order; each carries the writes out itself.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from monitor.sim.faults import FaultDice
from monitor.sim.model import FIELD_DEFAULTS, Event, Fields
from monitor.sim.truth import GroundTruth


@dataclass(frozen=True)
class Held:
    """What Backend holds of one user as an event reaches it."""

    rows: int
    dependents: int
    written: dict[str, int] = field(default_factory=dict)  # the first row's stamps


@dataclass(frozen=True)
class Insert:
    """A new row mirroring the user; `stamp` orders it among writes (ground truth)."""

    user_id: str
    fields: Fields
    version: int
    stamp: int


@dataclass(frozen=True)
class Update:
    """Set these fields and the version on every row of the user."""

    user_id: str
    changes: Fields
    version: int
    stamp: int


@dataclass(frozen=True)
class Remove:
    """Delete the user's rows, and its dependents unless `keep_dependents` (skip_cascade)."""

    user_id: str
    keep_dependents: bool = False


Write = Insert | Update | Remove


class Rules:
    """Plans the writes of each event and sweep; records every fault that fired."""

    def __init__(self, dice: FaultDice, truth: GroundTruth) -> None:
        self.truth = truth
        self._dice = dice
        self._stamp = itertools.count(1)  # orders writes: ground truth tells what a write undid

    def insert(self, user_id: str, fields: Fields, version: int) -> Insert:
        return Insert(user_id, dict(fields), version, next(self._stamp))

    def plan(self, event: Event, held: Held, now: float, *, faults: bool = True) -> list[Write]:
        """The writes that apply `event` (none when dropped: see `dropped`), with whatever
        faults fire on it (none when `faults` is False: an event that already suffered one,
        such as a reordered update)."""
        plan = {"create": self._create, "update": self._update, "delete": self._delete}
        return plan[event.op](event, held, now, faults)

    def dropped(self, event: Event, now: float, *, faults: bool = True) -> bool:
        """`drop_sync` fires: the event never reaches Backend."""
        if faults and self._dice.fires("drop_sync", event.op):
            self.truth.fired("drop_sync", event.user_id, event.op, now, event.version)
            return True
        return False

    def sweep(self, orphans: list[str], now: float) -> list[Write]:
        """The orphan sweeper's removals (none when `no_orphan_sweep` fires)."""
        if not orphans:
            return []
        if self._dice.fires("no_orphan_sweep"):
            for uid in orphans:
                self.truth.fired("no_orphan_sweep", uid, "delete", now)
            return []
        return [Remove(uid) for uid in orphans]

    def _create(self, event: Event, held: Held, now: float, faults: bool) -> list[Write]:
        if held.rows:
            return []  # redelivered create of a known user: idempotent by auth id
        writes: list[Write] = [self.insert(event.user_id, event.fields, event.version)]
        if faults and self._dice.fires("duplicate_sync"):
            self.truth.fired("duplicate_sync", event.user_id, "create", now, event.version)
            writes.append(self.insert(event.user_id, event.fields, event.version))
        return writes

    def _update(self, event: Event, held: Held, now: float, faults: bool) -> list[Write]:
        if not held.rows:
            return []
        stamp = next(self._stamp)
        changes = dict(event.fields)
        if faults and len(changes) > 1 and self._dice.fires("partial_update"):
            first = next(iter(changes))
            skipped = {k: held.written.get(k, 0) for k in changes if k != first}
            self._fired("partial_update", event, now, skipped)
            changes = {first: changes[first]}
        if faults and self._dice.fires("clobber_update"):
            reset = {k: v for k, v in FIELD_DEFAULTS.items() if k not in changes}
            self._fired("clobber_update", event, now, dict.fromkeys(reset, stamp))
            changes = {**reset, **changes}
        return [Update(event.user_id, changes, event.version, stamp)]

    def _delete(self, event: Event, held: Held, now: float, faults: bool) -> list[Write]:
        skip = faults and held.dependents > 0 and self._dice.fires("skip_cascade")
        if skip:
            self.truth.fired("skip_cascade", event.user_id, "delete", now, event.version)
        return [Remove(event.user_id, keep_dependents=skip)]

    def _fired(self, fault: str, event: Event, now: float, damage: dict[str, int]) -> None:
        """Record an update fault with the fields it damaged and the stamp they carry."""
        self.truth.fired(fault, event.user_id, "update", now, event.version, damage)
