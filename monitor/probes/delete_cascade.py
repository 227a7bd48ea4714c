"""delete_cascade: deleting a user in Auth removes it and all its dependents from Backend."""

from __future__ import annotations

from monitor.probes._expect import delete_user, deletion_reaches_backend, reaches_backend
from monitor.probes._run import ProbeRun
from monitor.results import ProbeResult
from monitor.settings import Deadlines, ProbeSettings
from monitor.targets.base import Target

GROUP = "core"
KINDS = ("missing", "partial", "duplicate", "orphan", "cascade", "slow")
NEEDS = (
    "auth.create",
    "auth.delete",
    "backend.get_user",
    "backend.count_users",
    "backend.create_dependent",
    "backend.get_dependents",
)
EXCLUSIVE = False
DEPENDENTS = 2  # a session and a workspace membership


def worst_case(deadlines: Deadlines) -> float:
    return 2 * deadlines.give_up


async def run(target: Target, settings: ProbeSettings) -> ProbeResult:
    async with ProbeRun("delete_cascade", target, settings) as probe:
        await check(probe)
    return probe.result()


async def check(probe: ProbeRun) -> None:
    user, acked = await probe.create_user()
    if not await reaches_backend(probe, user, acked):
        return
    for n in range(DEPENDENTS):
        await probe.backend.create_dependent(user.id, f"{user.email}#{n}")
    acked = await delete_user(probe, user)
    await deletion_reaches_backend(probe, user, acked, dependents=DEPENDENTS)
