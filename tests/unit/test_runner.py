"""The runner: one way to run a probe, never an exception out, exclusive probes alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from monitor import runner
from monitor.results import ProbeResult
from monitor.settings import ProbeSettings
from monitor.targets.base import BACKEND_CALLS, Target
from monitor.vtime import run_virtual

SimTarget = Callable[..., Target]


def fake_probe(run: Callable[..., Any], *, exclusive: bool = False, needs: tuple[str, ...] = ()):
    return SimpleNamespace(NEEDS=needs, EXCLUSIVE=exclusive, run=run)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The runner's registry, emptied for fake probes."""
    fakes: dict[str, Any] = {}
    monkeypatch.setattr(runner, "REGISTRY", fakes)
    return fakes


def test_a_probe_that_raises_becomes_an_error_result(
    sim_target: SimTarget, registry: dict[str, Any]
) -> None:
    async def boom(target: Target, settings: ProbeSettings) -> ProbeResult:
        raise ValueError("bad state")

    registry["boom"] = fake_probe(boom)

    result = run_virtual(runner.run_probe(sim_target(), "boom", ProbeSettings()))

    assert (result.outcome, result.error) == ("error", "internal error: ValueError: bad state")


def test_a_target_without_a_needed_call_gets_an_error_without_running(
    sim_target: SimTarget, registry: dict[str, Any]
) -> None:
    ran: list[str] = []

    async def probe(target: Target, settings: ProbeSettings) -> ProbeResult:
        ran.append("yes")
        raise AssertionError("must not run")

    registry["needy"] = fake_probe(probe, needs=("backend.outage", "backend.get_user"))
    target = sim_target()
    target.backend.calls = BACKEND_CALLS - {"outage"}

    result = run_virtual(runner.run_probe(target, "needy", ProbeSettings()))

    assert result.error == "target cannot run needy: missing backend.outage"
    assert ran == []


def test_a_probe_that_ignores_its_timeout_is_stopped_by_the_safety_net(
    sim_target: SimTarget, registry: dict[str, Any]
) -> None:
    async def stuck(target: Target, settings: ProbeSettings) -> ProbeResult:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    registry["stuck"] = fake_probe(stuck)
    settings = ProbeSettings(timeout=1.0, cleanup_deadline=1.0)

    result = run_virtual(runner.run_probe(sim_target(), "stuck", settings))

    limit = settings.timeout + settings.cleanup_deadline + runner.SAFETY_MARGIN
    assert result.error == f"timed out after {limit:g} s (the probe did not stop by itself)"
    assert result.duration_seconds == pytest.approx(limit)


def test_a_real_probe_reports_its_own_timeout_rather_than_the_safety_net(
    sim_target: SimTarget,
) -> None:
    target = sim_target({"sync_delay": 60.0})

    result = run_virtual(runner.run_probe(target, "create_sync", ProbeSettings(timeout=2.0)))

    assert result.error == "timed out after 2 s (during backend.wait_create)"


def test_an_exclusive_probe_never_overlaps_another_run_on_its_target(
    sim_target: SimTarget, registry: dict[str, Any]
) -> None:
    spans: dict[str, tuple[float, float]] = {}

    def timed(name: str, seconds: float) -> Callable[..., Any]:
        async def run(target: Target, settings: ProbeSettings) -> ProbeResult:
            start = asyncio.get_running_loop().time()
            await asyncio.sleep(seconds)
            spans[name] = (start, asyncio.get_running_loop().time())
            return ProbeResult(target.name, name, "pass", 0.0, seconds)

        return run

    registry["shared1"] = fake_probe(timed("shared1", 1.0))
    registry["alone"] = fake_probe(timed("alone", 1.0), exclusive=True)
    registry["shared2"] = fake_probe(timed("shared2", 1.0))
    target = sim_target()

    async def scenario() -> None:
        await asyncio.gather(
            *(runner.run_probe(target, p, ProbeSettings()) for p in ("shared1", "alone", "shared2"))
        )

    run_virtual(scenario())

    alone = spans.pop("alone")
    assert all(end <= alone[0] or start >= alone[1] for start, end in spans.values())
