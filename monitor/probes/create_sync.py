"""create_sync: a user created in Auth shows in Backend with equal fields within the deadline."""

from __future__ import annotations

from monitor.probes._expect import reaches_backend
from monitor.probes._run import ProbeRun
from monitor.results import ProbeResult
from monitor.settings import Deadlines, ProbeSettings
from monitor.targets.base import Target

GROUP = "core"
KINDS = ("missing", "partial", "duplicate", "slow")
NEEDS = ("auth.create", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False


def worst_case(deadlines: Deadlines) -> float:
    return deadlines.give_up


async def run(target: Target, settings: ProbeSettings) -> ProbeResult:
    async with ProbeRun("create_sync", target, settings) as probe:
        user, acked = await probe.create_user()
        await reaches_backend(probe, user, acked)
    return probe.result()
