"""The soak's figures: flatness fits, CPU per probe run, the plot and its BENCHMARKS.md section."""

from __future__ import annotations

import argparse
import itertools
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report import machine, write_section

MB = 1024 * 1024
RSS_AIM_MB = 5.0  # growth over the fitted window


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


def summarize(
    args: argparse.Namespace,
    samples: Sequence[dict[str, Any]],
    reloads: Sequence[dict[str, Any]],
    end: dict[str, Any],
) -> dict[str, Any]:
    fit = min(args.fit * 60, samples[-1]["t"] - samples[0]["t"])
    first, last = samples[0], samples[-1]
    runs = last["runs"] - first["runs"]
    cpu = last["cpu"] - first["cpu"]
    span = last["t"] - first["t"]
    lag_count = last["lag_count"] - first["lag_count"]
    return {
        "command": "python -m bench soak" + (" --quick" if args.quick else ""),
        "minutes": round(span / 60, 1),
        "targets": args.targets,
        "interval": args.interval,
        "fit_minutes": round(fit / 60, 1),
        "samples": len(samples),
        "reloads": len(reloads),
        "rss_start_mb": first["rss"] / MB,
        "rss_end_mb": last["rss"] / MB,
        "rss_max_mb": max(s["rss"] for s in samples) / MB,
        "rss_growth_mb": window_growth(samples, "rss", fit) / MB,
        "fds_growth": window_growth(samples, "fds", fit),
        "fds_range": (min(s["fds"] for s in samples), max(s["fds"] for s in samples)),
        "tasks_growth": window_growth(samples, "tasks", fit),
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
        ("loop lag p99 (ms, bucket bound)", [1000 * s["lag_p99"] for s in samples]),
        ("open fds / asyncio tasks", None),
    )
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 10), sharex=True)
    for ax, (label, ys) in zip(axes, series, strict=True):
        if ys is None:
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
            f"{r['lag_p99_ms_median']:g} ms, max {r['lag_p99_ms_max']:g} ms",
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
    return f"""## Soak

{r["targets"]} simulator targets × every probe at {r["interval"]} for {r["minutes"]} min,
a random fault mix switched on part of the targets and the config reloaded every minute
(POST /-/reload and SIGHUP alternately); one sample every 10 s of the daemon's RSS
(`VmRSS`), open descriptors, CPU time (`/proc/<pid>/stat`), `/api/status` `runtime` and
`/metrics`. One run (a soak is long); flatness is the least-squares slope over the last
{fit:g} minutes times that window.

| figure | aim | measured | |
|---|---|---|---|
{table}

Tagged users just before SIGTERM (held by runs in flight): {r["users_before_stop"]}, of
which {r["steady_users_before_stop"]} in the steady group. The fifth of the targets whose
fault mix never changes kept one simulated Auth for the whole soak, so the count after
stop covers the whole soak for them; the other targets are rebuilt when their mix
changes, and the count covers each since its last rebuild.

Load during the run (1-min loadavg, 2 cores shared with other engineers' test suites):
median {r["load1_median"]:.2f}, range {r["load1_range"][0]:.2f}-{r["load1_range"][1]:.2f}.
Lag buckets are coarse (1, 5, 10, 50 ms …), so a p99 is a bucket bound.

![RSS, CPU, loop lag and descriptors over the soak](bench/results/soak.png)

Machine: {r["nproc"]} CPUs ({r["cpu"]}), {r["python"]}; date {r["date"]}.
Command: `{r["command"]} --write`; raw samples in `bench/results/soak.json`.
"""


def write(result: dict[str, Any]) -> None:
    write_section("soak", render(result))
