"""partial_update: updating two fields changes exactly those two; the others keep their value."""

from __future__ import annotations

from monitor.probes._expect import created, update_reaches_backend, update_user
from monitor.probes._run import ProbeRun, probe_runner
from monitor.settings import Deadlines

GROUP = "integrity"
KINDS = ("missing", "stale", "partial", "duplicate", "slow")
NEEDS = ("auth.create", "auth.update", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False


def worst_case(deadlines: Deadlines) -> float:
    return 2 * deadlines.give_up


async def check(probe: ProbeRun) -> None:
    user = await created(probe)  # every field holds a non-default value
    if user is None:
        return
    two = probe.mutable_fields[:2]
    acked = await update_user(probe, user, {f: f"{user.fields[f]}-new" for f in two})
    await update_reaches_backend(probe, user, acked)


run = probe_runner("partial_update", check)
