"""The heartbeat benchmark's BENCHMARKS.md section, rendered from its repeats."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bench.heartbeat_pair import Errors, Scored, errors
from bench.heartbeat_sources import GIVE_UP, JITTER, SYNC_DELAY, Run
from bench.report import machine, percentile, spread

if TYPE_CHECKING:
    from bench.heartbeat import Repeat

MS = 1000.0


def render(
    repeats: Sequence[Repeat],
    *,
    args: argparse.Namespace,
    argv: Sequence[str],
    pg_skipped: str | None,
) -> str:
    pg = [r.pg for r in repeats if r.pg is not None]
    return "\n".join([
        "## Heartbeat baseline: clock skew against the monitor's single clock", "",
        *_figure(args, len(repeats)), "",
        "### (a) In-process simulator", "", *_setup_sim(args), "",
        *_table([r.sim for r in repeats], args.skews), "", *_notes([r.sim for r in repeats]),
        "", "### (b) `simulate --backend-dsn` with PostgreSQL", "",
        *(_pg(pg, args) if pg else [_not_run(pg_skipped)]), "",
        *_verdict(repeats, args.skews), "", *_machine(argv),
    ])  # fmt: skip


def _figure(args: argparse.Namespace, n: int) -> list[str]:
    skews = ", ".join(f"{s * MS:g}" for s in args.skews)
    return [
        "**Figure.** The error of each measured sync latency against the simulator's ground "
        "truth for the same change (`visible_at - emitted_at`), by two methods on the same "
        "changes and the same reads. *Heartbeat*, as pt-heartbeat measures lag: the writer "
        "puts its wall-clock time (`time.time()`) into the user it creates (`display_name`); "
        "the reader, once a read returns the copy, subtracts that value from its own wall "
        "clock. *Monitor*: from the write's acknowledgement to the start of the first read "
        "that saw the copy, both on one monotonic clock (what `Sync.seconds` is). Both come "
        "from one wait through the monitor's helper (`wait_until` with a learned `Pacer`), "
        "so this is the heartbeat at its best: read as densely as the monitor reads, not "
        "once per `--interval`. The reader's clock is then taken as running ahead of the "
        f"writer's by {skews} ms, as when NTP drifts; a skew moves every instant the reader "
        "sees by the same amount and changes nothing about the reads, so one set of changes "
        "serves every skew, and the columns differ by the skew alone.", "",
        "**Expectation** (issue 8, no numeric aim): the heartbeat's error grows with the "
        "skew, the monitor's does not.", "",
        f"Values: median (min-max) of {n} repeat(s) of the whole measurement; errors are "
        "absolute, the bias is the median signed error (+: the method reports more lag "
        "than there was).",
    ]  # fmt: skip


def _setup_sim(args: argparse.Namespace) -> list[str]:
    return [
        f"**Setup.** One simulator world (sync_delay {SYNC_DELAY * MS:g} ms ± "
        f"{JITTER * MS:g} ms jitter, backend_latency 0, no faults) on the real clock. Each "
        "change is written straight into the world: the user is created in Auth and its "
        "change event published in the same instant (`World.auth.new_user` + `publish`), so "
        "the write takes no time and the stamp, the emission and the ack coincide; reads "
        f"come from the world's Backend. {args.loops} writers at once, one change after "
        f"another each, sharing one pacer; the first {args.warm_up} changes warm the pacer "
        f"and are not scored, then {args.changes} are.",
    ]


def _pg(pg: list[Run], args: argparse.Namespace) -> list[str]:
    return [
        "**Setup.** A throwaway PostgreSQL cluster (`initdb` in a temp dir, "
        "tests/support/postgres.py: fsync off, loopback) holds the Backend of `python -m "
        "monitor simulate --backend-dsn` running in its own process with auth_latency 0, "
        "sync_delay 40 ms, no jitter: a change is visible from the commit of the "
        "transaction that applies it, which is when ground truth marks it. The writer "
        "creates users through the HTTP Auth side and the reader reads the copy from the "
        "`users` table through the monitor's SQL side, both as `config/examples/"
        "http-sql.yaml` builds them. 2 writers (the SQL side's pool holds 2 connections); "
        f"first {args.warm_up} changes warm the pacer, then {args.pg_changes} are scored.",
        "", *_table(pg, args.skews), "", *_notes(pg),
    ]  # fmt: skip


def _not_run(why: str | None) -> str:
    return f"Not run: {why}." if why else "Not run (`--no-postgres`)."


Pick = Callable[[Errors], float]
COLUMNS: tuple[Pick, ...] = (lambda e: e.p50, lambda e: e.p99, lambda e: e.max, lambda e: e.bias)


def _table(runs: Sequence[Run], skews: Sequence[float]) -> list[str]:
    lines = [
        "| reader's clock ahead by | method | p50 error | p99 error | max error | bias |",
        "|---|---|---|---|---|---|",
    ]
    monitor = [errors([s.monitor_error for s in r.scored]) for r in runs]
    for skew in skews:
        beat = [errors([s.heartbeat_error(skew) for s in r.scored]) for r in runs]
        lines.append(_row(f"{skew * MS:g} ms", "heartbeat", beat))
        lines.append(_row("", "monitor", monitor))
    return lines


def _row(skew: str, method: str, per_run: list[Errors]) -> str:
    cells = [spread([pick(e) for e in per_run], " ms", MS) for pick in COLUMNS]
    return f"| {skew} | {method} | {' | '.join(cells)} |"


def _notes(runs: Sequence[Run]) -> list[str]:
    def median_of(get: Callable[[Scored], float]) -> list[float]:
        return [statistics.median(get(s) for s in r.scored) for r in runs]

    truth = median_of(lambda s: s.truth)
    write = median_of(lambda s: s.pair.write)
    early = median_of(lambda s: s.before_emission)
    read = median_of(lambda s: s.pair.seen_read)
    reads = [statistics.fmean(s.pair.reads for s in r.scored) for r in runs]
    return [
        f"Scored per repeat: {', '.join(str(len(r.scored)) for r in runs)} changes; never "
        f"seen within {GIVE_UP:g} s: {sum(r.lost for r in runs)}; no visible change in the "
        f"truth: {sum(r.unmatched for r in runs)}. True latency, median "
        f"{spread(truth, ' ms', MS)}; reads per change (mean) {spread(reads)}. Medians per "
        f"change: the write took {spread(write, ' ms', MS, 3)} (stamp to ack), of which "
        f"{spread(early, ' ms', MS, 3)} came before the change was emitted, and the read "
        f"that returned the copy took {spread(read, ' ms', MS, 3)}. The heartbeat counts "
        "both as lag even without skew (its stamp is taken before the write, its reading "
        "when the answer is in hand); the monitor starts at the ack and ends at the read's "
        "start. Load average (1 min) as each repeat started: "
        f"{', '.join(f'{r.load:.2f}' for r in runs)}; wall time per repeat "
        f"{spread([r.seconds for r in runs], ' s', 1, 1)}.",
    ]


def _p99(values: list[float]) -> float:
    return percentile([abs(v) for v in values], 99)


def _verdict(repeats: Sequence[Repeat], skews: Sequence[float]) -> list[str]:
    parts = []
    for name, runs in (("(a)", [r.sim for r in repeats]), ("(b)", [r.pg for r in repeats])):
        scored = [r for r in runs if r is not None]
        if not scored:
            continue
        mon = statistics.median(_p99([s.monitor_error for s in r.scored]) for r in scored)
        ratios = []
        for skew in skews:
            hb = statistics.median(
                _p99([s.heartbeat_error(skew) for s in r.scored]) for r in scored
            )
            ratios.append(f"{hb * MS:.2f} ms at {skew * MS:g} ms skew ({hb / mon:.1f}x)")
        parts.append(
            f"{name} monitor p99 error {mon * MS:.2f} ms at every skew; heartbeat p99 "
            + ", ".join(ratios)
        )
    return [
        "**Result.** " + "; ".join(parts) + ". Ratios are heartbeat / monitor p99 error "
        "(medians of repeats)."
    ]


def _machine(argv: Sequence[str]) -> list[str]:
    m = machine()
    command = " ".join([".venv/bin/python -m bench heartbeat", *argv])
    return [
        f"Machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['python']}; run on {m['date']}.",
        "",
        f"Command: `{command}`",
    ]
