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


@pytest.mark.parametrize("takes", [0.033, 0.05])
def test_a_read_still_running_at_the_checkpoint_does_not_delay_the_read_due_there(
    takes: float,
) -> None:
    change = Change(visible_at=NEVER, takes=takes)

    acked, _ = virtual(wait_for(change, after=0.0, give_up=5.0, checkpoint=1.0))

    assert acked + 1.0 in change.starts


def test_with_slow_reads_a_change_landing_just_after_the_checkpoint_is_proven_late() -> None:
    change = Change(visible_at=1.01, takes=0.05)

    _, obs = virtual(wait_for(change, after=0.0, give_up=5.0, checkpoint=1.0))

    assert obs.converged
    assert obs.after >= 1.0


def test_a_read_still_running_at_the_deadline_does_not_keep_the_last_read_from_it() -> None:
    change = Change(visible_at=NEVER, takes=2.0)

    acked, _ = virtual(wait_for(change, after=0.0, give_up=5.0))

    assert change.starts[-1] == acked + 5.0


def test_reads_that_fell_due_together_are_made_once() -> None:
    pacer = Pacer()
    for latency in (0.10, 0.15, 0.20, 0.25, 0.30):
        pacer.learn(latency)
    change = Change(visible_at=NEVER)

    async def late_wait() -> None:
        await asyncio.sleep(1.0)
        acked = CLOCK.monotonic() - 0.5  # the wait begins half a second after the ack
        await wait_until(
            change.read, bool, acked=acked, deadline=acked + 2.0, clock=CLOCK, pacer=pacer
        )

    virtual(late_wait())

    assert len(change.starts) == len(set(change.starts)) > 1


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

    offsets = list(itertools.islice(pacer.offsets(), DENSE_READS + 3))
    dense = offsets[1:]

    assert offsets[0] == 0.0
    assert 0.3 < dense[0] <= min(latencies) < max(latencies) <= dense[-1] < 0.7
    assert all(0 < b - a <= 0.03 + 1e-9 for a, b in itertools.pairwise(dense))


def test_a_converged_wait_teaches_the_pacer_its_latency() -> None:
    pacer = Pacer()

    _, obs = virtual(wait_for(Change(visible_at=1.5), after=1.0, give_up=5.0, pacer=pacer))

    assert pacer.arrivals() == [(obs.after, obs.seconds)]


def test_with_a_learned_window_the_latency_is_accurate_to_a_dense_gap() -> None:
    pacer = Pacer()
    for latency in (0.45, 0.48, 0.50, 0.52, 0.55):
        pacer.learn(latency)

    _, obs = virtual(wait_for(Change(visible_at=1.5), after=1.0, give_up=5.0, pacer=pacer))

    assert obs.seconds is not None and 0.5 <= obs.seconds <= 0.5 + 0.02


def test_the_window_starts_at_the_earliest_lower_bound_not_the_measured_latency() -> None:
    pacer = Pacer()
    for after, latency in ((0.38, 0.40), (0.43, 0.45), (0.48, 0.50), (0.53, 0.55)):
        pacer.learn(latency, after)

    dense = list(itertools.islice(pacer.offsets(), 2))[1:]

    assert dense == [0.38]


def test_cold_start_arrivals_are_set_aside_once_finer_ones_are_known() -> None:
    pacer = Pacer()
    for _ in range(3):
        pacer.learn(0.9, 0.2)  # bracketed by the cold schedule's wide gaps
    for after, latency in ((0.49, 0.50), (0.50, 0.51), (0.51, 0.52)):
        pacer.learn(latency, after)

    dense = list(itertools.islice(pacer.offsets(), 3))[1:]

    assert dense[0] == 0.49
    assert dense[1] - dense[0] < 0.01


def test_a_system_that_speeds_up_moves_the_window_earlier_within_ten_waits() -> None:
    pacer = Pacer()
    for after, latency in ((0.49, 0.50), (0.50, 0.51), (0.51, 0.52)) * 20:
        pacer.learn(latency, after)

    async def waits() -> list[float | None]:
        seen = []
        for _ in range(10):
            change = Change(visible_at=CLOCK.monotonic() + 0.05)  # acked at once, below
            seen.append((await wait_for(change, after=0.0, give_up=5.0, pacer=pacer))[1].seconds)
        return seen

    seen = virtual(waits())

    assert seen[0] == pytest.approx(0.49)  # the window's first read: 0.44 s late
    assert seen[-1] is not None and seen[-1] < 0.1  # a dense gap of the still wide window


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
