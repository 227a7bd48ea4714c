"""The one way a probe is run: the target's lock, a safety timeout, never an exception out."""

from __future__ import annotations

import asyncio
import logging

from monitor.probes import REGISTRY
from monitor.results import ProbeResult
from monitor.settings import ProbeSettings
from monitor.targets.base import Target, missing_calls

log = logging.getLogger("monitor.runner")

SAFETY_MARGIN = 1.0  # the probe enforces its own timeout; this catches a probe that does not


def error_result(
    target: Target, probe: str, started_at: float, took: float, why: str
) -> ProbeResult:
    return ProbeResult(target.name, probe, "error", started_at, took, error=why)


async def run_probe(target: Target, probe: str, settings: ProbeSettings) -> ProbeResult:
    """Run one probe on one target; any failure becomes an `error` result."""
    module = REGISTRY[probe]
    started_at, t0 = target.clock.wall(), target.clock.monotonic()
    if missing := missing_calls(target, module.NEEDS):
        why = f"target cannot run {probe}: missing {', '.join(missing)}"
        return error_result(target, probe, started_at, 0.0, why)
    limit = settings.timeout + settings.cleanup_deadline + SAFETY_MARGIN
    try:
        async with asyncio.timeout(limit), target.lock.hold(exclusive=module.EXCLUSIVE):
            return await module.run(target, settings)
    except TimeoutError:
        why = f"timed out after {limit:g} s (the probe did not stop by itself)"
    except Exception as exc:  # the runner must never raise to the scheduler
        log.exception("probe %s on %s raised", probe, target.name)
        why = f"internal error: {type(exc).__name__}: {exc}"
    return error_result(target, probe, started_at, target.clock.monotonic() - t0, why)
