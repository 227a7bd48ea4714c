"""orphan_cleanup: after a Backend outage during a deletion, the orphan is gone after recovery."""

from __future__ import annotations

import asyncio

from monitor.probes._expect import created, delete_user, deletion_reaches_backend
from monitor.probes._run import ProbeRun, probe_runner
from monitor.settings import Deadlines

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


async def check(probe: ProbeRun) -> None:
    user = await created(probe)
    if user is None:
        return
    await probe.backend.outage(True)
    try:
        await delete_user(probe, user)
    finally:
        await asyncio.shield(probe.backend.outage(False))
    recovered = probe.clock.monotonic()
    await deletion_reaches_backend(probe, user, recovered)


run = probe_runner("orphan_cleanup", check)
