"""duplicate: creating the same user twice is rejected or idempotent; Backend holds one record."""

from __future__ import annotations

from monitor.probes._expect import reaches_backend
from monitor.probes._run import ProbeRun, probe_runner
from monitor.settings import Deadlines
from monitor.targets.base import AlreadyExists

GROUP = "integrity"
KINDS = ("missing", "partial", "duplicate", "slow")
NEEDS = ("auth.create", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False


def worst_case(deadlines: Deadlines) -> float:
    return deadlines.give_up + deadlines.sync


async def check(probe: ProbeRun) -> None:
    user, acked = await probe.create_user()
    try:
        again = await probe.auth.create(user.fields, conflict_ok=True)
    except AlreadyExists:
        again = user.id
    if again != user.id:
        probe.track(again, user.fields)
        probe.found("duplicate", "auth accepted a second user with the same email")
    if not await reaches_backend(probe, user, acked) or "duplicate" in probe.kinds:
        return
    extra = await probe.hold(
        "settle",
        lambda: probe.reads.count_users(user.id),
        lambda n: n <= 1,
        until=acked + probe.deadlines.sync,
    )
    if extra is not None:
        probe.found("duplicate", f"{extra} backend records for one auth user")


run = probe_runner("duplicate", check)
