"""rollback: a transaction forced to fail midway leaves nothing on either side."""

from __future__ import annotations

from monitor.probes._run import ProbeRun, probe_runner
from monitor.settings import Deadlines
from monitor.targets.base import Fields

GROUP = "core"
KINDS = ("rollback",)
NEEDS = ("auth.transaction", "auth.get", "auth.delete", "backend.get_user")
EXCLUSIVE = False


def worst_case(deadlines: Deadlines) -> float:
    return deadlines.give_up


async def check(probe: ProbeRun) -> None:
    fields = probe.new_fields()
    outcome = await probe.auth.transaction(fields, fail=True)
    acked = probe.clock.monotonic()
    user = probe.track(outcome.user_id, fields)
    if outcome.committed:
        probe.found("rollback", "the transaction told to fail committed instead")
        return
    if await probe.auth.get(user.id) is not None:
        probe.found("rollback", "auth kept the user of a rolled-back transaction")
    gone = await probe.wait(
        "rollback", lambda: probe.reads.get_user(user.id), _absent, acked=acked, sync=False
    )
    if not gone.converged:
        probe.found(
            "rollback",
            f"backend kept its half of a rolled-back transaction after "
            f"{probe.deadlines.give_up:g} s",
        )


def _absent(record: Fields | None) -> bool:
    return record is None


run = probe_runner("rollback", check)
