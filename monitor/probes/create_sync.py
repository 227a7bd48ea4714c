"""create_sync: a user created in Auth shows in Backend with equal fields within the deadline."""

from __future__ import annotations

from monitor.probes._expect import created
from monitor.probes._run import ProbeRun, probe_runner
from monitor.settings import Deadlines

GROUP = "core"
KINDS = ("missing", "partial", "duplicate", "slow")
NEEDS = ("auth.create", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False


def worst_case(deadlines: Deadlines) -> float:
    return deadlines.give_up


async def check(probe: ProbeRun) -> None:
    await created(probe)


run = probe_runner("create_sync", check)
