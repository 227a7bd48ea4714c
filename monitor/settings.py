"""Resolved settings one probe run needs: deadlines and the run's limits."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Deadlines:
    """`sync`: later than this is `slow`; `give_up`: not seen by then is missing/stale/...;
    `load`: the budget of the `load` probe's three cycles."""

    sync: float = 1.0
    give_up: float = 5.0
    load: float = 3.0


@dataclass(frozen=True)
class ProbeSettings:
    """Everything a probe run is told: deadlines, the run's hard timeout, its schedule."""

    deadlines: Deadlines = field(default_factory=Deadlines)
    timeout: float = 25.0
    interval: float = 30.0
    jitter: float = 0.0
    cleanup_deadline: float = 5.0
