"""The convergence helper: when it reads, what it measures, when it stops."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from monitor.clock import Clock
from monitor.probes._convergence import (
    DENSE_READS,
    MAX_GAP,
    MAX_READS,
    MIN_GAP,
    Observation,
    Pacer,
    hold,
    wait_until,
)
from monitor.vtime import run_virtual

T = TypeVar("T")
CLOCK = Clock()  # the running loop's time: virtual under run_virtual
NEVER = float("inf")


class Change:
    """Reads of a value that becomes visible at `visible_at`; each read takes `takes`."""

    def __init__(self, visible_at: float, takes: float = 0.0) -> None:
        self.visible_at = visible_at
        self.takes = takes
        self.starts: list[float] = []

    async def read(self) -> bool:
        self.starts.append(CLOCK.monotonic())
        await asyncio.sleep(self.takes)
        return self.starts[-1] >= self.visible_at


def virtual(coro: Coroutine[Any, Any, T]) -> T:
    return run_virtual(coro)


async def wait_for(
    change: Change, *, after: float, give_up: float, pacer: Pacer | None = None, **kw: Any
) -> tuple[float, Observation[bool]]:
    """Ack at `after` (virtual seconds), then wait up to `give_up` for the change."""
    await asyncio.sleep(after)
    acked = CLOCK.monotonic()
    obs = await wait_until(
        change.read, bool, acked=acked, deadline=acked + give_up, clock=CLOCK,
        pacer=pacer or Pacer(), **kw,
    )  # fmt: skip
    return acked, obs


def test_latency_runs_from_the_ack_to_the_start_of_the_first_read_that_sees_it() -> None:
    change = Change(visible_at=10.3, takes=0.02)

    acked, obs = virtual(wait_for(change, after=10.0, give_up=5.0))

    assert obs.converged
    assert obs.seconds == change.starts[-1] - acked
    assert change.starts[-2] < change.visible_at <= change.starts[-1]
    assert obs.after == change.starts[-2] - acked
    assert obs.reads == len(change.starts)


def test_a_change_that_never_arrives_is_read_last_at_the_deadline_and_never_after() -> None:
    change = Change(visible_at=NEVER)

    acked, obs = virtual(wait_for(change, after=1.0, give_up=5.0))

    assert not obs.converged and obs.seconds is None
    assert max(change.starts) == change.starts[-1] == acked + 5.0
    assert obs.after == 5.0


def test_reads_are_bounded_however_long_the_wait() -> None:
    change = Change(visible_at=NEVER)

    acked, obs = virtual(wait_for(change, after=0.0, give_up=1000.0))

    assert obs.reads == len(change.starts) == MAX_READS
    assert change.starts[-1] == acked + 1000.0


def test_a_slow_read_never_makes_another_start_past_the_deadline() -> None:
    change = Change(visible_at=NEVER, takes=2.0)

    acked, _ = virtual(wait_for(change, after=0.0, give_up=5.0))

    assert all(start <= acked + 5.0 for start in change.starts)


def test_a_read_starts_at_the_checkpoint() -> None:
    change = Change(visible_at=NEVER)

    acked, _ = virtual(wait_for(change, after=3.0, give_up=5.0, checkpoint=1.0))

    assert acked + 1.0 in change.starts


def test_a_change_missed_at_the_checkpoint_is_proven_later_than_it() -> None:
    change = Change(visible_at=4.001)

    _, obs = virtual(wait_for(change, after=3.0, give_up=5.0, checkpoint=1.0))

    assert obs.converged
    assert obs.after >= 1.0


def test_a_change_seen_at_the_checkpoint_is_not_proven_later_than_it() -> None:
    change = Change(visible_at=3.999)

    _, obs = virtual(wait_for(change, after=3.0, give_up=5.0, checkpoint=1.0))

    assert obs.converged
    assert obs.after < 1.0


def test_a_new_pacer_reads_at_once_then_backs_off_to_the_largest_gap() -> None:
    offsets = list(itertools.islice(Pacer().offsets(), 30))
    gaps = [b - a for a, b in itertools.pairwise(offsets)]

    assert offsets[:2] == [0.0, MIN_GAP]
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(gaps))
    assert gaps[-1] == pytest.approx(MAX_GAP)


def test_the_pacer_learns_a_window_and_reads_densely_across_it() -> None:
    pacer = Pacer()
    latencies = (0.40, 0.45, 0.50, 0.55, 0.60)
    for latency in latencies:
        pacer.learn(latency)

    offsets = list(itertools.islice(pacer.offsets(), DENSE_READS + 1))
    dense = offsets[1:]

    assert offsets[0] == 0.0
    assert 0.3 < dense[0] < min(latencies) < max(latencies) <= dense[-1] < 0.7
    assert all(0 < b - a <= 0.03 + 1e-9 for a, b in itertools.pairwise(dense))


def test_a_converged_wait_teaches_the_pacer_its_latency() -> None:
    pacer = Pacer()

    _, obs = virtual(wait_for(Change(visible_at=1.5), after=1.0, give_up=5.0, pacer=pacer))

    assert list(pacer.history) == [obs.seconds]


def test_with_a_learned_window_the_latency_is_accurate_to_a_dense_gap() -> None:
    pacer = Pacer()
    for latency in (0.45, 0.48, 0.50, 0.52, 0.55):
        pacer.learn(latency)

    _, obs = virtual(wait_for(Change(visible_at=1.5), after=1.0, give_up=5.0, pacer=pacer))

    assert obs.seconds is not None and 0.5 <= obs.seconds <= 0.5 + 0.02


async def hold_over(values: list[int], ok: Any, until: float) -> tuple[int | None, int]:
    it = iter(values)
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        return next(it)

    return await hold(read, ok, until=CLOCK.monotonic() + until, clock=CLOCK), reads


def test_hold_returns_the_first_value_that_is_not_ok() -> None:
    found, reads = virtual(hold_over([1, 1, 2, 1], lambda n: n <= 1, until=1.0))

    assert (found, reads) == (2, 3)


def test_hold_returns_none_when_every_value_until_the_end_is_ok() -> None:
    found, reads = virtual(hold_over([1] * 100, lambda n: n <= 1, until=1.0))

    assert found is None
    assert 1 < reads < 100
