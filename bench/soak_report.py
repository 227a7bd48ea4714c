"""The soak's figures: flatness fits, CPU per probe run, the plot and its BENCHMARKS.md section."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report import machine, write_section
from monitor.durations import parse_duration

MB = 1024 * 1024
RSS_AIM_MB = 5.0  # growth over the fitted window
DEFAULT_HISTORY = 100  # server.history when the config leaves it out
STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
SERVING = re.compile(STAMP + r"\S+ +monitor\.daemon: serving on", re.MULTILINE)
SKIPPED = re.compile(r" monitor\.results: skipped ")
CLEANUP_TIMED_OUT = re.compile(STAMP + r".* cleanup of \S+ on \S+ failed: timed out", re.MULTILINE)
CLEANUP_FAILED = re.compile(r"cleanup of \S+ on \S+ failed: (timed out|auth\.delete)")
TIMED_OUT = re.compile(r" monitor\.results: \S+ error in \S+ s error timed out")


def log_time(stamp: str) -> float:
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0 when there are fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def window_growth(samples: Sequence[dict[str, Any]], key: str, seconds: float) -> float:
    """Growth of `key` over the last `seconds`, from the least-squares line through them."""
    last = samples[-1]["t"]
    tail = [s for s in samples if s["t"] >= last - seconds]
    return slope([s["t"] for s in tail], [float(s[key]) for s in tail]) * seconds


def floor_growth(samples: Sequence[dict[str, Any]], key: str, seconds: float) -> float:
    """Growth of each minute's minimum of `key` over the last `seconds` (LSQ).

    Runs in flight come in bursts (a stalled loop, then the jobs that fell due meanwhile),
    so a leak shows as a rising floor, not in single samples.
    """
    last = samples[-1]["t"]
    minutes: dict[int, float] = {}
    for s in samples:
        if s["t"] >= last - seconds:
            minute = int(s["t"] // 60)
            minutes[minute] = min(minutes.get(minute, float("inf")), float(s[key]))
    xs = [60.0 * m for m in minutes]
    return slope(xs, list(minutes.values())) * seconds


def growth_beyond_runs(samples: Sequence[dict[str, Any]], key: str, seconds: float) -> float:
    """Growth of `key` over the last `seconds` once what the runs in flight explain is
    taken out: the time term of a least-squares fit of `key` on runs in flight and time.

    Every run in flight holds a few tasks of its own, and how many runs are in flight
    follows the fault mixes of the moment; a leak is what grows regardless.
    """
    import numpy as np  # the bench extra's (matplotlib's); daemon-load imports this module

    last = samples[-1]["t"]
    window = [s for s in samples if s["t"] >= last - seconds and "in_flight" in s]
    if len(window) < 3:
        return 0.0
    design = np.array([(1.0, s["in_flight"], s["t"]) for s in window])
    values = np.array([float(s[key]) for s in window])
    coefficients = np.linalg.lstsq(design, values, rcond=None)[0]
    return float(coefficients[2]) * seconds


def timeout_minutes(log: str) -> list[int]:
    """The minutes of the soak (from `serving on`) in which a cleanup timed out."""
    found = SERVING.search(log)
    if found is None:
        return []
    start = log_time(found.group(1))
    stamps = (log_time(m.group(1)) for m in CLEANUP_TIMED_OUT.finditer(log))
    return sorted({int((t - start) // 60) for t in stamps})


def lag_text(ms: float) -> str:
    return "> 1000 ms" if ms == float("inf") else f"{ms:g} ms"


def summarize(
    args: argparse.Namespace,
    samples: Sequence[dict[str, Any]],
    reloads: Sequence[dict[str, Any]],
    end: dict[str, Any],
    log: str | None = None,
) -> dict[str, Any]:
    fit = min(args.fit * 60, samples[-1]["t"] - samples[0]["t"])
    first, last = samples[0], samples[-1]
    runs = last["runs"] - first["runs"]
    cpu = last["cpu"] - first["cpu"]
    span = last["t"] - first["t"]
    lag_count = last["lag_count"] - first["lag_count"]
    return {
        "command": command(args),
        "name": args.name,
        "note": args.note,
        "history": getattr(args, "history", None) or DEFAULT_HISTORY,
        "ring_minutes": (getattr(args, "history", None) or DEFAULT_HISTORY)
        * parse_duration(args.interval)
        / 60,
        "minutes": round(span / 60, 1),
        "targets": args.targets,
        "interval": args.interval,
        "fit_minutes": round(fit / 60, 1),
        "samples": len(samples),
        "reloads": len(reloads),
        "skipped": len(SKIPPED.findall(log or "")),
        "timed_out_runs": len(TIMED_OUT.findall(log or "")),
        "cleanups_timed_out": CLEANUP_FAILED.findall(log or "").count("timed out"),
        "cleanups_auth_error": CLEANUP_FAILED.findall(log or "").count("auth.delete"),
        "cleanup_timeout_minutes": timeout_minutes(log or ""),
        "rss_start_mb": first["rss"] / MB,
        "rss_end_mb": last["rss"] / MB,
        "rss_max_mb": max(s["rss"] for s in samples) / MB,
        "rss_growth_mb": window_growth(samples, "rss", fit) / MB,
        "rss_growth_half_mb": window_growth(samples, "rss", fit / 2) / MB,
        "fds_growth": window_growth(samples, "fds", fit),
        "fds_range": (min(s["fds"] for s in samples), max(s["fds"] for s in samples)),
        "tasks_growth": floor_growth(samples, "tasks", fit),
        "tasks_beyond_runs": growth_beyond_runs(samples, "tasks", fit),
        "tasks_range": (min(s["tasks"] for s in samples), max(s["tasks"] for s in samples)),
        "tcp_range": (min(s["tcp"] for s in samples), max(s["tcp"] for s in samples)),
        "runs": runs,
        "runs_per_second": runs / span if span else 0.0,
        "cpu_percent": 100 * cpu / span if span else 0.0,
        "cpu_ms_per_run": 1000 * cpu / runs if runs else float("nan"),
        "lag_mean_ms": 1000 * (last["lag_sum"] - first["lag_sum"]) / lag_count if lag_count else 0,
        "lag_p99_ms_median": 1000 * statistics.median(s["lag_p99"] for s in samples[1:]),
        "lag_p99_ms_max": 1000 * max(s["lag_p99"] for s in samples[1:]),
        "load1_median": statistics.median(s["load1"] for s in samples),
        "load1_range": (min(s["load1"] for s in samples), max(s["load1"] for s in samples)),
        **end,
        **machine(),
    }


def command(args: argparse.Namespace) -> str:
    """The command line that reproduces this soak."""
    words = ["python -m bench soak", "--quick" if args.quick else ""]
    words += [f"--minutes {args.minutes:g}", f"--targets {args.targets}", f"--fit {args.fit:g}"]
    words += [f"--name {args.name}"] if args.name != "soak" else []
    words += [f"--history {args.history}"] if getattr(args, "history", None) else []
    return " ".join(w for w in words if w)


def plot(samples: Sequence[dict[str, Any]], path: Path) -> None:
    """RSS, CPU (% of a core between samples) and loop lag p99 over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s["t"] / 60 for s in samples]
    cpu = [0.0] + [
        100 * (b["cpu"] - a["cpu"]) / (b["t"] - a["t"]) for a, b in itertools.pairwise(samples)
    ]
    series = (
        ("RSS (MB)", [s["rss"] / MB for s in samples]),
        ("CPU (% of one core)", cpu),
        ("loop lag per 10 s (ms, log)", None),
        ("open fds / asyncio tasks", None),
    )
    lag_mean = [0.0] + [
        1000 * (b["lag_sum"] - a["lag_sum"]) / max(1.0, b["lag_count"] - a["lag_count"])
        for a, b in itertools.pairwise(samples)
    ]
    # p99 is a bucket bound; past the last finite bound (1 s) it is drawn at 2 s
    lag_p99 = [1000 * min(s["lag_p99"], 2.0) for s in samples]
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 10), sharex=True)
    for ax, (label, ys) in zip(axes, series, strict=True):
        if label.startswith("loop lag"):
            ax.plot(minutes, lag_p99, label="p99 (bucket bound; 2000 = over 1 s)", lw=0.8)
            ax.plot(minutes, lag_mean, label="mean")
            ax.set_yscale("log")
            ax.legend(loc="upper left", fontsize=7)
        elif ys is None:
            ax.plot(minutes, [s["fds"] for s in samples], label="open fds")
            ax.plot(minutes, [s["tasks"] for s in samples], label="asyncio tasks")
            ax.legend(loc="upper left")
        else:
            ax.plot(minutes, ys)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("minutes since start")
    fig.suptitle("soak: daemon with simulator targets, faults switched and reload every minute")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render(r: dict[str, Any]) -> str:
    fit = r["fit_minutes"]
    rows = [
        (
            "RSS growth, last " + f"{fit:g} min (LSQ)",
            "< 5 MB",
            f"{r['rss_growth_mb']:+.2f} MB",
            verdict(r["rss_growth_mb"] < RSS_AIM_MB),
        ),
        (
            "RSS growth, last " + f"{fit / 2:g} min (LSQ)",
            "-",
            f"{r['rss_growth_half_mb']:+.2f} MB",
            "",
        ),
        (
            "open fds growth, last " + f"{fit:g} min (LSQ)",
            "none (< 1)",
            f"{r['fds_growth']:+.2f} (range {r['fds_range'][0]}-{r['fds_range'][1]})",
            verdict(r["fds_growth"] < 1),
        ),
        (
            "asyncio tasks growth, last " + f"{fit:g} min",
            "none (< 1, no leak)",
            f"{r['tasks_growth']:+.2f} (range {r['tasks_range'][0]}-{r['tasks_range'][1]})",
            verdict(r["tasks_growth"] < 1),
        ),
        (
            "asyncio tasks growth beyond runs in flight (LSQ on runs in flight and time)",
            "none (< 1, no leak)",
            f"{r.get('tasks_beyond_runs', float('nan')):+.2f}",
            verdict(r.get("tasks_beyond_runs", 1.0) < 1),
        ),
        ("established TCP connections", "bounded", f"{r['tcp_range'][0]}-{r['tcp_range'][1]}", ""),
        (
            "tagged users left in Auth after SIGTERM",
            "0",
            f"{r['users_after_stop']} in {r['targets_checked_after_stop']} targets",
            verdict(r["users_after_stop"] == 0),
        ),
        ("CPU per probe run", "-", f"{r['cpu_ms_per_run']:.2f} ms", ""),
        (
            "CPU, whole soak",
            "-",
            f"{r['cpu_percent']:.1f}% of one core ({r['runs_per_second']:.1f} runs/s)",
            "",
        ),
        (
            "RSS start / end / max",
            "-",
            f"{r['rss_start_mb']:.1f} / {r['rss_end_mb']:.1f} / {r['rss_max_mb']:.1f} MB",
            "",
        ),
        (
            "event-loop lag",
            "-",
            f"mean {r['lag_mean_ms']:.2f} ms; p99 per 10 s window: median "
            f"{lag_text(r['lag_p99_ms_median'])}, max {lag_text(r['lag_p99_ms_max'])}",
            "",
        ),
        (
            "reloads (POST + SIGHUP alternately)",
            "all succeed",
            f"{r['reloads']}, {r['reload_errors'] + r['reload_failed_in_log']} failed",
            verdict(r["reload_errors"] + r["reload_failed_in_log"] == 0),
        ),
        (
            "graceful stop",
            "exit 0",
            f"exit {r['exit_code']} in {r['stop_seconds']:.1f} s",
            verdict(r["exit_code"] == 0),
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    title = "Soak" if r["name"] == "soak" else f"Soak, short run (`{r['name']}`)"
    return f"""## {title}

{r["targets"]} simulator targets × every probe at {r["interval"]} for {r["minutes"]} min,
a random fault mix switched on part of the targets and the config reloaded every minute
(POST /-/reload and SIGHUP alternately); one sample every 10 s of the daemon's RSS
(`VmRSS`), open descriptors, CPU time (`/proc/<pid>/stat`), `/api/status` `runtime` and
`/metrics`. One run (a soak is long); flatness is the least-squares slope over the last
{fit:g} minutes times that window.

| figure | aim | measured | |
|---|---|---|---|
{table}

Runs not started (overlap or misfire): {r["skipped"]} of
{r["skipped"] + r["runs"]:.0f} due; runs that hit their timeout: {r["timed_out_runs"]}. Cleanups
that failed: {r["cleanups_timed_out"]} past their 5 s cleanup deadline (in minute(s)
{", ".join(map(str, r["cleanup_timeout_minutes"])) or "-"} of the soak) and
{r["cleanups_auth_error"]} on an injected Auth error (`auth_errors`); each leaves its
synthetic users to the janitor, which removes tagged users older than its ttl (default
1 h), so within a 30-minute soak they are still there at the end.

Tagged users just before SIGTERM (held by runs in flight): {r["users_before_stop"]}, of
which {r["steady_users_before_stop"]} in the steady group. The fifth of the targets whose
fault mix never changes kept one simulated Auth for the whole soak, so the count after
stop covers the whole soak for them; the other targets are rebuilt when their mix
changes, and the count covers each since its last rebuild.

**Reading the RSS.** Part of the growth is expected and bounded: the history ring keeps
{r["history"]} results per job, compressed (about 85 B each, deflated ten at a time;
`python -m bench memory`), and at {r["interval"]} fills in about {r["ring_minutes"]:.0f}
minutes; a reload that rebuilds a target keeps its jobs' rings and counters. The
monitor's simulated worlds keep no ground truth (nothing in the monitor reads it).

Load during the run (1-min loadavg, 2 cores shared with other engineers' test suites):
median {r["load1_median"]:.2f}, range {r["load1_range"][0]:.2f}-{r["load1_range"][1]:.2f}.
{r.get("note", "")}
Lag buckets are coarse (1, 2.5, 5, 10, 25, 50 ms …), so a p99 is a bucket bound.

![RSS, CPU, loop lag and descriptors over the soak](bench/results/{r["name"]}.png)

Machine: {r["nproc"]} CPUs ({r["cpu"]}), {r["python"]}; date {r["date"]}.
Command: `{r["command"]} --write`; raw samples in `bench/results/{r["name"]}.json`.
"""


def write(result: dict[str, Any]) -> None:
    """Section `soak` for the default name; a short soak under another name gets its own."""
    write_section(result["name"], render(result))
