"""The fault campaign over HTTP: `consistency-monitor simulate` in a child process
(bench/simulate_proc.py), probed through the HTTP adapter (config/examples/http-sim.yaml),
faults switched with PUT /admin/faults, ground truth read with GET /admin/truth; on the
real clock.

The admin API has no hook for "this run's cleanup begins", which in-process is where
ground truth judges the run's faults. Over HTTP the simulator judges a user's faults
when Auth deletes it; what fires after that and before the cleanup (a lost or
cascading deletion, an unswept orphan, a rolled-back transaction's Backend half, whose
Auth user is never deleted) is judged here from the same ground truth, and the faults
from the cleanup's start on are marked `during_cleanup`. A user whose deletion failed
(auth_errors three times in the cleanup) is never judged: its faults stay open. Events
of earlier runs that land during a run are told apart by their users. The client's
event-loop lag is sampled throughout: a late read makes some lateness undecidable.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.campaign import CleanupWatch, Cycle, Plan, cycles, earlier_users, faults_document
from bench.fault_scoring import Run, Tally, judge, own
from bench.loop_lag import Lag, LoopLag
from bench.simulate_proc import TOKEN, Simulate, running_simulate
from monitor.runner import run_probe
from monitor.settings import Deadlines, ProbeSettings
from monitor.sim.truth import FaultRecord, Visibility
from monitor.targets.base import Target

# Sync latencies from 20 to 220 ms against a 200 ms `sync` deadline: some runs `slow`.
SIMULATOR = {
    "auth_latency": "20ms",
    "sync_delay": "120ms",
    "latency_jitter": "100ms",
    "reorder_hold": "200ms",
}
DEADLINES = Deadlines(sync=0.2, give_up=1.0, load=3.0)
TOLERANCE = 0.01  # a read's round trip, and the ack after the emission, on loopback
PERMANENT = ("skip_cascade", "no_orphan_sweep", "non_atomic_rollback")  # nothing repairs them


def settings_over_http() -> ProbeSettings:
    return ProbeSettings(deadlines=DEADLINES, timeout=10.0)


def over_http(plan: Plan) -> tuple[Tally, str]:
    """The campaign through `simulate`; its tally and the set-up in words."""
    tally, lag = asyncio.run(_campaign(plan))
    setup = (
        "over HTTP on the real clock: `consistency-monitor simulate` in a child process ("
        + ", ".join(f"{k} {v}" for k, v in SIMULATOR.items())
        + "), the probes through the HTTP adapter as in config/examples/http-sim.yaml, "
        "faults switched with PUT /admin/faults, ground truth from GET /admin/truth "
        f"(timing tolerance {TOLERANCE * 1e3:g} ms). The client's event-loop lag: "
        f"p99 {lag.p99 * 1e3:.1f} ms, max {lag.max * 1e3:.1f} ms"
    )
    return tally, setup


async def _campaign(plan: Plan) -> tuple[Tally, Lag]:
    rng = random.Random(plan.seed)
    with running_simulate(seed=str(rng.getrandbits(32)), **SIMULATOR) as sim:
        async with aiohttp.ClientSession() as http, LoopLag() as lag:
            target = sim.target(sim.config())
            tally = await _cycles(plan, rng, target, Admin(http, sim))
    return tally, lag.summary()


async def _cycles(plan: Plan, rng: random.Random, target: Target, admin: Admin) -> Tally:
    tally = Tally()
    try:
        for cycle in cycles(rng, plan.cycles):
            run = await run_cycle(target, admin, cycle, plan)
            tally.add(run, judge(run))
            if (cycle.number + 1) % 50 == 0:
                print(f"{cycle.number + 1} cycles", file=sys.stderr)
    finally:
        await target.close()
    return tally


async def run_cycle(target: Target, admin: Admin, cycle: Cycle, plan: Plan) -> Run:
    """One probe run with fresh ground truth (no settling: earlier runs' late events
    are told apart by their users)."""
    if cycle.mix is not None:
        await admin.put_faults(faults_document(cycle.mix))
    await admin.clear_truth()
    watch = CleanupWatch.of(target)
    result = await run_probe(target, cycle.probe, plan.settings)
    truth = await admin.truth()
    faults, changes = own(
        (fault_of(f, watch.at) for f in truth["faults"]),
        (change_of(c) for c in truth["changes"]),
        earlier_users(target),
    )
    judged = tuple(judge_after_deletion(f, changes, watch.at) for f in faults)
    deadlines = plan.settings.deadlines
    number, probe = cycle.number, cycle.probe
    return Run(number, probe, result, judged, changes, deadlines, watch.at, TOLERANCE, True)


def fault_of(data: Mapping[str, Any], cleanup_at: float | None) -> FaultRecord:
    at = float(data["at"])
    during = data["during_cleanup"] or (cleanup_at is not None and at >= cleanup_at)
    return FaultRecord(
        data["fault"],
        data["user_id"],
        data["operation"],
        at,
        int(data["version"]),
        observable=data["observable"],
        during_cleanup=bool(during),
    )


def change_of(data: Mapping[str, Any]) -> Visibility:
    return Visibility(
        data["op"], data["user_id"], int(data["version"]), data["emitted_at"], data["visible_at"]
    )


def judge_after_deletion(
    record: FaultRecord, changes: tuple[Visibility, ...], cleanup_at: float | None
) -> FaultRecord:
    """Observability, as of the cleanup's start, of a fault that fired after its user's
    deletion in Auth (the simulator judged the user's faults then)."""
    if record.observable is not None or record.during_cleanup:
        return record
    if record.fault in PERMANENT:
        record.observable = True
    elif (record.fault, record.operation) == ("drop_sync", "delete"):
        record.observable = not any(
            c.op == "delete"
            and c.user_id == record.user_id
            and c.visible_at is not None
            and (cleanup_at is None or c.visible_at < cleanup_at)
            for c in changes
        )
    return record


# -- the simulator over HTTP -------------------------------------------------------------


@dataclass
class Admin:
    """`simulate`'s admin endpoints: faults switched live, ground truth cleared and read."""

    http: aiohttp.ClientSession
    sim: Simulate

    async def _call(self, method: str, path: str, body: Any = None) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{self.sim.auth}{path}"
        async with self.http.request(method, url, json=body, headers=headers) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: {resp.status} {await resp.text()}")

    async def put_faults(self, document: Mapping[str, Any]) -> None:
        await self._call("PUT", "/admin/faults", document)

    async def clear_truth(self) -> None:
        await self._call("POST", "/admin/truth/clear")

    async def truth(self) -> dict[str, Any]:
        """Ground truth; its times are the simulator's loop clock, which must be ours."""
        before = time.monotonic()
        found = await self.sim.truth(self.http)
        after = time.monotonic()
        if not before - TOLERANCE <= found["clock"] <= after + TOLERANCE:
            raise RuntimeError("the simulator's clock is not this process' time.monotonic()")
        return found
