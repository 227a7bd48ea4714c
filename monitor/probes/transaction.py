"""transaction: a cross-service transaction commits on both sides."""

from __future__ import annotations

from monitor.probes._expect import reaches_backend
from monitor.probes._run import ProbeError, ProbeRun, probe_runner
from monitor.settings import Deadlines

GROUP = "core"
KINDS = ("missing", "partial", "duplicate", "slow")
NEEDS = ("auth.transaction", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False


def worst_case(deadlines: Deadlines) -> float:
    return deadlines.give_up


async def check(probe: ProbeRun) -> None:
    fields = probe.new_fields()
    outcome = await probe.auth.transaction(fields, fail=False)
    acked = probe.clock.monotonic()
    user = probe.track(outcome.user_id, fields)
    if not outcome.committed:
        raise ProbeError("auth.transaction: the transaction was not committed")
    await reaches_backend(probe, user, acked)


run = probe_runner("transaction", check)
