"""Where the daemon's CPU goes at 100 simulator targets × 10 probes at 30 s.

python -m bench cpu [--minutes 2] [--repeat 3] [--targets 100] [--write]

`bench daemon-load` says how much CPU the daemon takes; this says what for. The daemon
runs as a child process with counters (`bench.counted_daemon`): over a window after
warm-up it reports CPU per recorded run, event-loop turns per run, turns that slept
(each one a wake-up), and Backend reads per run. Three variants run side by side in
each window, each a fresh daemon, so that every comparison is made on the same machine
at the same moment (on a shared virtual machine the CPU the same work costs varies by a
third from hour to hour):

- `as shipped`: the monitor as it is;
- `sparse reads`: the convergence wait's dense window cut from 14 reads at least 1 ms
  apart to 2 at least 10 ms apart, an experiment (not a setting) that measures what the
  dense reads, which issue 3's accuracy aim pays for, cost in CPU;
- `probes do nothing`: every run returns a passing result at once without touching its
  target, an experiment that measures the daemon's own cost around the probes
  (APScheduler, the scheduler, recording, the alert rules, the event loop): the floor
  no work on the probes or the simulator can go below.

With `perf` on the machine, the first `as shipped` window is also sampled by
`perf record` (499 Hz), and the report gives the share of the daemon's CPU spent in
the interpreter, in the kernel (wake-ups, syscalls) and elsewhere.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.daemon_load import DEFAULTS, SIMULATOR, wait_every_job_ran
from bench.daemon_proc import (
    RESULTS,
    Daemon,
    cpu_seconds,
    loadavg,
    running_daemon,
    sim_targets,
    wakeups,
    write_config,
)
from bench.report import machine, spread, write_section

VARIANTS = {
    "as shipped": [],
    "sparse reads": ["--sparse"],
    "probes do nothing": ["--no-probe-work"],
}
FLOOR = "probes do nothing"
DSO = re.compile(r"^\s*([\d.]+)%\s+(\S+)", re.MULTILINE)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench cpu", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=2.0, help="measured window (2)")
    parser.add_argument("--warm-up", type=float, default=45.0, help="seconds not measured (45)")
    parser.add_argument("--repeat", type=int, default=3, help="windows per variant (3)")
    parser.add_argument("--targets", type=int, default=100, help="simulator targets (100)")
    parser.add_argument("--name", default="cpu", help="file stem under bench/results/")
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    parser.add_argument(
        "--from-results",
        action="store_true",
        help="measure nothing: render bench/results/NAME.json again",
    )
    return parser.parse_args(list(argv))


def windows(
    variants: dict[str, Sequence[str]], args: argparse.Namespace, perf: str | None = None
) -> list[dict[str, Any]]:
    """One fresh daemon per variant (its flags to `bench.counted_daemon`), all running
    side by side over the same window, so that each sees the same machine: the counters'
    differences over the window; for the `perf` variant, `perf record`'s split by binary;
    under `--profile`, the shares of cProfile's components."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        daemons: dict[str, tuple[Daemon, Path]] = {}
        for variant, flags in variants.items():
            stem = f"{args.name}-{variant.replace(' ', '-')}"
            config = write_config(
                RESULTS / f"{stem}.yaml", sim_targets(args.targets, **SIMULATOR), DEFAULTS
            )
            counts = tmp / f"{stem}.jsonl"
            launcher = ["-m", "bench.counted_daemon", str(counts), *flags]
            daemon = stack.enter_context(
                running_daemon(
                    config, RESULTS / f"{stem}.state", RESULTS / f"{stem}.monitor.log", launcher
                )
            )
            daemons[variant] = (daemon, counts)
        for daemon, _ in daemons.values():
            wait_every_job_ran(daemon, within=120)
        time.sleep(max(0.0, args.warm_up - 30))
        before = {v: _sample(d) for v, (d, _) in daemons.items()}
        for daemon, _ in daemons.values():
            daemon.process.send_signal(signal.SIGUSR1)
        seconds = args.minutes * 60
        shares = perf_shares(daemons[perf][0].pid, seconds, tmp) if perf else None
        if shares is None:
            time.sleep(seconds)
        after = {v: _sample(d) for v, (d, _) in daemons.items()}
        for daemon, _ in daemons.values():
            daemon.process.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        for daemon, _ in daemons.values():
            code, _ = daemon.stop()
            if code != 0:
                raise RuntimeError(f"the daemon exited {code}; log:\n{daemon.log()}")
        return [
            _measured(v, counts, before[v], after[v], shares if v == perf else None)
            for v, (_, counts) in daemons.items()
        ]


def _sample(daemon: Daemon) -> tuple[float, int, float]:
    return cpu_seconds(daemon.pid), wakeups(daemon.pid), time.monotonic()


def _measured(
    variant: str,
    counts: Path,
    before: tuple[float, int, float],
    after: tuple[float, int, float],
    shares: dict[str, float] | None,
) -> dict[str, Any]:
    first, last = (json.loads(line) for line in counts.read_text().splitlines()[:2])
    profiled = Path(f"{counts}.prof")
    components = component_shares(profiled) if profiled.exists() else None
    elapsed = after[2] - before[2]

    def counted(key: str) -> float:  # a counter never bumped in the window is absent
        return float(last.get(key, 0) - first.get(key, 0))

    runs = counted("runs")
    return {
        "variant": variant,
        "seconds": elapsed,
        "cpu_share": (after[0] - before[0]) / elapsed,
        "runs_per_second": runs / elapsed,
        "cpu_per_run": (last["cpu"] - first["cpu"]) / runs,
        "turns_per_run": counted("turns") / runs,
        "sleeps_per_run": counted("sleeps") / runs,
        "reads_per_run": counted("reads") / runs,
        "wakeups_per_second": (after[1] - before[1]) / elapsed,
        "loadavg": loadavg(),
        "perf": shares,
        "components": components,
    }


def perf_shares(pid: int, seconds: float, tmp: Path) -> dict[str, float] | None:
    """`perf record` of the process for `seconds`: percent of samples per binary."""
    perf = shutil.which("perf")
    if perf is None:
        return None
    data = tmp / "perf.data"
    record = [perf, "record", "-F", "499", "-p", str(pid), "-o", str(data), "--"]
    subprocess.run([*record, "sleep", str(seconds)], capture_output=True, check=True)
    report = subprocess.run(
        [perf, "report", "-i", str(data), "--sort", "dso", "--stdio", "-g", "none"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shares: dict[str, float] = {}
    for percent, dso in DSO.findall(report):
        shares[dso] = shares.get(dso, 0.0) + float(percent)
    return shares


# (label, file path suffix, function): cumulative time under cProfile, as a share of the
# loop's busy time (its turns less the time blocked in epoll). An "of which" row is part
# of the nearest row above it that is not one; coroutines are counted per resumption.
COMPONENTS = (
    ("probe runs (everything a run does in the probe's task)", "monitor/runner.py", "run_probe"),
    ("of which convergence waits (their reads included)", "monitor/probes/_run.py", "wait"),
    ("of which settle reads (`hold`)", "monitor/probes/_run.py", "hold"),
    ("recording each result", "monitor/recorder.py", "record"),
    ("of which the history ring", "monitor/history.py", "append"),
    ("of which the alert rules", "monitor/alerts/service.py", "on_result"),
    ("APScheduler's wake-up and job submission", "apscheduler/schedulers/asyncio.py", "wakeup"),
    ("the simulator's sync deliveries", "monitor/sim/sync.py", "fire"),
    ("the alert rules' timer (every job)", "monitor/alerts/service.py", "_every"),
)


EPOLL = "<method 'poll' of 'select.epoll' objects>"


def component_shares(path: Path) -> dict[str, float]:
    """Each component's share of the loop's busy time in a cProfile dump, and the loop's
    own share (its turns less the callbacks and tasks it ran)."""
    table = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, name: str) -> float:
        return sum(
            v[3] for (file, _, func), v in table.items() if func == name and file.endswith(suffix)
        )

    poll = sum(v[2] for (_, _, func), v in table.items() if func == EPOLL)
    busy = cumulative("asyncio/base_events.py", "_run_once") - poll
    shares = {label: cumulative(suffix, name) / busy for label, suffix, name in COMPONENTS}
    ran = cumulative("asyncio/events.py", "_run")
    shares["the event loop's own work (turns, timers, epoll calls)"] = (busy - ran) / busy
    return shares


def summarise(windows: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    keys = ("cpu_share", "runs_per_second", "cpu_per_run", "turns_per_run", "sleeps_per_run")
    keys += ("reads_per_run", "wakeups_per_second")
    measured = {w["variant"] for w in windows}
    return {
        variant: {k: [w[k] for w in windows if w["variant"] == variant] for k in keys}
        for variant in VARIANTS
        if variant in measured
    }


def render(result: dict[str, Any]) -> str:
    s = summarise(result["windows"])
    shipped, sparse = s["as shipped"], s["sparse reads"]
    rows = [
        ("CPU, % of one core", "cpu_share", "%", 100.0, 1),
        ("recorded runs per second", "runs_per_second", "", 1.0, 1),
        ("CPU per run, ms", "cpu_per_run", "", 1000.0, 2),
        ("event-loop turns per run", "turns_per_run", "", 1.0, 1),
        ("of which slept (a wake-up)", "sleeps_per_run", "", 1.0, 1),
        ("Backend reads per run", "reads_per_run", "", 1.0, 1),
        ("voluntary context switches per second", "wakeups_per_second", "", 1.0, 0),
    ]
    table = ["| figure | " + " | ".join(s) + " |", "|---" * (len(s) + 1) + "|"]
    for label, key, unit, scale, digits in rows:
        cells = (spread(v[key], unit, scale, digits) for v in s.values())
        table.append(f"| {label} | " + " | ".join(cells) + " |")
    saved = 1 - statistics.median(sparse["cpu_share"]) / statistics.median(shipped["cpu_share"])
    reads = statistics.median(shipped["reads_per_run"]) - statistics.median(sparse["reads_per_run"])
    runs = statistics.median(shipped["runs_per_second"])
    budget = 0.05 / runs
    per_shipped = statistics.median(shipped["cpu_per_run"])
    per_sparse = statistics.median(sparse["cpu_per_run"])
    verdict = ", so the reads alone do not decide the aim" if per_sparse > budget else ""
    floor = ""
    if FLOOR in s:
        per_floor = statistics.median(s[FLOOR]["cpu_per_run"])
        probes = per_shipped - per_floor
        floor = (
            f"\n\nWith probes that do nothing, a run still costs {per_floor * 1000:.2f} ms"
            f" ({statistics.median(s[FLOOR]['cpu_share']) * 100:.1f} % of one core): that"
            " much is the daemon around the probes (APScheduler's wake-up and task, the"
            " scheduler, recording the result in metrics, history and alert rules, the"
            f" event loop). The probes and the simulator add {probes * 1000:.2f} ms a run;"
        )
        if per_floor < budget:
            floor += (
                f" to meet the aim they would have to cost {(budget - per_floor) * 1000:.2f}"
                f" ms, {(1 - (budget - per_floor) / probes) * 100:.0f} % less."
            )
        else:
            floor += " the daemon around them takes the whole budget already."
    perf = next((w["perf"] for w in result["windows"] if w["perf"]), None)
    if perf:
        python = sum(v for k, v in perf.items() if "libpython" in k or k.startswith("python"))
        kernel = perf.get("[kernel.kallsyms]", 0.0)
        where = "the interpreter's" if python > kernel else "the kernel's"
        profile = (
            f"`perf record` over the first `as shipped` window: **{python:.0f} %** of the "
            f"daemon's CPU samples are in the interpreter (libpython), {kernel:.0f} % in "
            f"the kernel (wake-ups and syscalls included) and {100 - python - kernel:.0f} % "
            "in C libraries and extension modules (libc, zlib, `_asyncio`, `_heapq`, …): "
            f"the CPU is mostly {where} work."
        )
    else:
        profile = "`perf` was not on this machine: no profile by binary."
    m = result["machine"]
    profiled = (result.get("profiled") or {}).get("components")
    if profiled:
        lines = [
            "**By component** (one more `as shipped` window under cProfile, which slows",
            "call-heavy code more than the rest, so these are indications, not measures:",
            "each row's cumulative time as a share of the loop's busy time; rows starting",
            '"of which" are part of the nearest row above them that does not):',
            "",
            "| component | share of busy time |",
            "|---|---|",
        ]
        lines += [f"| {label} | {share * 100:.0f} % |" for label, share in profiled.items()]
        components = "\n".join(lines) + "\n"
    else:
        components = ""
    together = (
        "the variants side by side in each window (each sees the same machine)"
        if result.get("side_by_side")
        else "alternating"
    )
    return f"""## Where the daemon's CPU goes

{result["targets"]} simulator targets × every probe (10) at 30 s, as in `bench daemon-load`,
the daemon as a child process with counters (`bench.counted_daemon`); after
warm-up, a {result["minutes"]:g}-min window; {result["repeat"]} windows per variant,
{together}, each a fresh daemon. Figures are the median (min-max) of the windows. The
`sparse reads` variant is an experiment, not a setting: the convergence wait's dense
window cut from 14 reads at least 1 ms apart to 2 at least 10 ms apart. So is
`probes do nothing`: every run returns a pass at once without touching its target
(recording it as any result), which leaves the daemon's own cost around the probes.

{chr(10).join(table)}

Cutting {reads:.1f} Backend reads per run (the dense window) changes the daemon's CPU
by **{-saved * 100:+.0f} %** (medians). {profile}

At {runs:.1f} runs a second, `daemon-load`'s aim (< 5 % of one core) leaves
{budget * 1000:.2f} ms of CPU per run: a run costs {per_shipped / budget:.1f}× that as shipped
and {per_sparse / budget:.1f}× with sparse reads{verdict}.{floor}

A run is spread over about {statistics.median(shipped["turns_per_run"]):.0f} turns of
the event loop: every simulated latency, sync delivery and read is a timer, and every
timer takes a turn to fire and another to resume the task that waited on it.

{components}
Load during the windows (1-min loadavg): median {statistics.median(result["loads"]):.2f}.
Machine: {m["nproc"]} CPUs ({m["cpu"]}), {m["python"]}; date {m["date"]}.
Command: `python -m bench cpu --write`; raw figures in `bench/results/{result["name"]}.json`.
"""


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.from_results:
        return report(json.loads((RESULTS / f"{args.name}.json").read_text()), args.write)
    measured = []
    for repeat in range(args.repeat):
        for w in windows(VARIANTS, args, perf="as shipped" if repeat == 0 else None):
            print(
                f"{w['variant']}: cpu {w['cpu_share'] * 100:.1f} %, "
                f"{w['cpu_per_run'] * 1000:.2f} ms/run, {w['turns_per_run']:.1f} turns/run, "
                f"{w['reads_per_run']:.1f} reads/run",
                flush=True,
            )
            measured.append(w)
    (profiled,) = windows({"profiled": ["--profile"]}, args)
    result = {
        "name": args.name,
        "targets": args.targets,
        "minutes": args.minutes,
        "repeat": args.repeat,
        "side_by_side": True,
        "windows": measured,
        "profiled": profiled,
        "loads": [w["loadavg"] for w in measured],
        "machine": machine(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2))
    return report(result, args.write)


def report(result: dict[str, Any], write: bool) -> int:
    text = render(result)
    print(text)
    if write:
        write_section(result["name"], text)
    return 0
