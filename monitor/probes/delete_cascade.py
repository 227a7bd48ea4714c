"""delete_cascade: deleting a user in Auth removes it and all its dependents from Backend."""

from __future__ import annotations

from monitor.probes._expect import created, delete_user, deletion_reaches_backend
from monitor.probes._run import ProbeRun, probe_runner
from monitor.settings import Deadlines

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


async def check(probe: ProbeRun) -> None:
    user = await created(probe)
    if user is None:
        return
    for n in range(DEPENDENTS):
        await probe.backend.create_dependent(user.id, f"{user.email}#{n}")
    acked = await delete_user(probe, user)
    await deletion_reaches_backend(probe, user, acked, dependents=DEPENDENTS)


run = probe_runner("delete_cascade", check)
