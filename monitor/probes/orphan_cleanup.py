"""orphan_cleanup: after a Backend outage during a deletion, the orphan is gone after recovery."""

from __future__ import annotations

import asyncio

from monitor.probes._expect import delete_user, deletion_reaches_backend, reaches_backend
from monitor.probes._run import ProbeRun
from monitor.results import ProbeResult
from monitor.settings import Deadlines, ProbeSettings
from monitor.targets.base import Target

GROUP = "integrity"
KINDS = ("missing", "partial", "duplicate", "orphan", "slow")
NEEDS = (
    "auth.create",
    "auth.delete",
    "backend.get_user",
    "backend.count_users",
    "backend.outage",
)
EXCLUSIVE = True  # an outage would disturb every other probe on the target


def worst_case(deadlines: Deadlines) -> float:
    return 2 * deadlines.give_up


async def run(target: Target, settings: ProbeSettings) -> ProbeResult:
    async with ProbeRun("orphan_cleanup", target, settings) as probe:
        await check(probe)
    return probe.result()


async def check(probe: ProbeRun) -> None:
    user, acked = await probe.create_user()
    if not await reaches_backend(probe, user, acked):
        return
    await probe.backend.outage(True)
    try:
        await delete_user(probe, user)
    finally:
        await asyncio.shield(probe.backend.outage(False))
    recovered = probe.clock.monotonic()
    await deletion_reaches_backend(probe, user, recovered)
