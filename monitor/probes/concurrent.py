"""concurrent: five simultaneous creates; at least four accepted, each reaches Backend once."""

from __future__ import annotations

import asyncio

from monitor.probes._expect import reaches_backend
from monitor.probes._run import ProbeError, ProbeRun, probe_runner
from monitor.settings import Deadlines

GROUP = "core"
KINDS = ("missing", "partial", "duplicate", "slow")
NEEDS = ("auth.create", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False
USERS = 5
MIN_ACCEPTED = 4


def worst_case(deadlines: Deadlines) -> float:
    return deadlines.give_up


async def check(probe: ProbeRun) -> None:
    created = await asyncio.gather(
        *(probe.create_user() for _ in range(USERS)), return_exceptions=True
    )
    accepted = [c for c in created if not isinstance(c, BaseException)]
    errors = [c for c in created if isinstance(c, BaseException)]
    if errors and not all(isinstance(e, ProbeError) and e.throttled for e in errors):
        raise next(e for e in errors if not (isinstance(e, ProbeError) and e.throttled))
    if len(accepted) < MIN_ACCEPTED:
        raise ProbeError(f"auth accepted only {len(accepted)} of {USERS} concurrent creates")
    await asyncio.gather(*(reaches_backend(probe, user, acked) for user, acked in accepted))


run = probe_runner("concurrent", check)
