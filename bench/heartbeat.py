"""The heartbeat baseline: lag measured the way pt-heartbeat measures it (a wall-clock
timestamp written on one side, read back on the other, subtracted), side by side with
the monitor's own method (acknowledgement → first read that sees the change, on one
clock), on the same changes and the same reads, with the reader's clock skewed.

(a) the in-process simulator; (b) `simulate --backend-dsn` with a throwaway PostgreSQL
cluster (tests/support/postgres.py), Auth over HTTP and the Backend's table read through
the SQL side. Each is scored against the simulator's ground truth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bench.heartbeat_report import render
from bench.heartbeat_sources import PostgresUnavailable, Run, in_process, over_postgres
from bench.heartbeat_sources import throwaway_database as database
from bench.report import percentile, write_section
from bench.simulate_proc import running_simulate
from monitor.probes._convergence import HISTORY

# (b): writes over HTTP as quick as loopback allows, so the stamp is taken just before the
# change is made, as pt-heartbeat's is; no jitter, which would also delay the writes
PG_SIM = {"auth_latency": "0s", "sync_delay": "40ms", "latency_jitter": "0s"}


@dataclass(frozen=True)
class Repeat:
    sim: Run
    pg: Run | None


def one_repeat(args: argparse.Namespace, n: int, dsn: str | None) -> Repeat:
    seed = args.seed + 1000 * n
    sim = asyncio.run(
        in_process(count=args.changes, warm_up=args.warm_up, loops=args.loops, seed=seed)
    )
    if dsn is None:
        return Repeat(sim, None)
    with running_simulate(**PG_SIM, backend_dsn=dsn) as served:
        pg = asyncio.run(
            over_postgres(
                served, dsn, count=args.pg_changes, warm_up=args.warm_up, loops=2, seed=seed
            )
        )
    return Repeat(sim, pg)


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench heartbeat", description=__doc__)
    parser.add_argument(
        "--skews",
        type=lambda s: [float(ms) / 1000 for ms in s.split(",")],
        default=[0.0, 0.005, 0.050],
        help="how far the reader's clock is ahead of the writer's, in ms (0,5,50)",
    )
    parser.add_argument("--changes", type=int, default=600, help="(a) changes scored (600)")
    parser.add_argument("--pg-changes", type=int, default=300, help="(b) changes scored (300)")
    parser.add_argument(
        "--warm-up", type=int, default=HISTORY, help=f"changes before scoring ({HISTORY})"
    )
    parser.add_argument("--loops", type=int, default=4, help="(a) concurrent writers (4)")
    parser.add_argument("--repeats", type=int, default=3, help="whole measurements (3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true", help="skip (b)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 repeat, 150 + 60 changes, warm-up 16"
    )
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    args = parser.parse_args(list(argv))
    if args.quick:
        args.repeats, args.changes, args.pg_changes = 1, min(args.changes, 150), 60
        args.warm_up = min(args.warm_up, 16)
    return args


def progress(n: int, of: int, r: Repeat) -> str:
    parts = [f"(a) {_p99s(r.sim)}"] + ([f"(b) {_p99s(r.pg)}"] if r.pg else [])
    return f"repeat {n + 1}/{of}: " + "; ".join(parts)


def _p99s(run: Run) -> str:
    mon = percentile([abs(s.monitor_error) for s in run.scored], 99)
    hb = percentile([abs(s.heartbeat_error(0.0)) for s in run.scored], 99)
    return f"p99 error monitor {mon * 1e3:.2f} ms, heartbeat at 0 skew {hb * 1e3:.2f} ms"


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    repeats, why = [], None
    with contextlib.ExitStack() as stack:
        dsn = None
        if not args.no_postgres:
            try:
                dsn = stack.enter_context(database())
            except PostgresUnavailable as exc:
                why = str(exc)
                print(f"(b) skipped: {why}", file=sys.stderr)
        for n in range(args.repeats):
            repeats.append(one_repeat(args, n, dsn))
            print(progress(n, args.repeats, repeats[-1]), file=sys.stderr)
    text = render(repeats, args=args, argv=argv, pg_skipped=why)
    print(text)
    if args.write:
        write_section("heartbeat", text)
    return 0
