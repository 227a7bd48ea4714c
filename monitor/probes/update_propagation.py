"""update_propagation: an update reaches Backend in time; of two quick updates the last wins."""

from __future__ import annotations

from monitor.probes._expect import (
    created,
    differing,
    matches,
    update_reaches_backend,
    update_user,
)
from monitor.probes._run import ProbeRun, SyntheticUser, probe_runner
from monitor.settings import Deadlines

GROUP = "core"
KINDS = ("missing", "stale", "partial", "duplicate", "slow")
NEEDS = ("auth.create", "auth.update", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False


def worst_case(deadlines: Deadlines) -> float:
    return 3 * deadlines.give_up + deadlines.sync


async def check(probe: ProbeRun) -> None:
    user = await created(probe)
    if user is None:
        return
    first, second = probe.mutable_fields[0], probe.mutable_fields[-1]
    acked = await update_user(probe, user, {first: f"{user.fields[first]}-1"})
    if await update_reaches_backend(probe, user, acked):
        await last_update_wins(probe, user, first, second)


async def last_update_wins(probe: ProbeRun, user: SyntheticUser, first: str, second: str) -> None:
    """Two updates back to back: Backend must end, and stay, on the second."""
    await update_user(probe, user, {first: f"{user.fields[first]}-2", second: "older"})
    acked = await update_user(probe, user, {first: f"{user.fields[first]}-3", second: "newer"})
    if not await update_reaches_backend(probe, user, acked):
        return
    expected = dict(user.fields)
    reverted = await probe.hold(
        "settle",
        lambda: probe.reads.get_user(user.id),
        matches(expected),
        until=acked + probe.deadlines.sync,
    )
    if reverted is not None:
        fields = ", ".join(differing(reverted, expected))
        probe.found("stale", f"an older update overwrote the newer one in {fields}")


run = probe_runner("update_propagation", check)
