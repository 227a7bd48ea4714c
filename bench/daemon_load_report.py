"""The daemon-load benchmark's BENCHMARKS.md section."""

from __future__ import annotations

from typing import Any

from bench.report import machine, write_section

SERIES_AIM = 400


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def window_rows(w: dict[str, Any], targets: int) -> list[tuple[str, str, str, str]]:
    lo, med, hi = w["rss_mb"]
    p50, p99, top = w["scrape_ms"]
    return [
        (
            "CPU",
            "< 5% of one core",
            f"{w['cpu_percent']:.1f}% ({w['runs_per_second']:.1f} runs/s)",
            verdict(w["cpu_percent"] < 5),
        ),
        ("RSS", "< 100 MB", f"median {med:.1f} MB ({lo:.1f}-{hi:.1f})", verdict(hi < 100)),
        ("RSS growth over the window (LSQ)", "flat", f"{w['rss_growth_mb']:+.2f} MB", ""),
        ("/metrics size", "-", f"{w['bytes'] / 1024:.0f} KiB, {w['samples']:.0f} samples", ""),
        (
            "scrape time p50 / p99 (max)",
            "p99 < 100 ms",
            f"{p50:.1f} / {p99:.1f} ms ({top:.1f})",
            verdict(p99 < 100),
        ),
        (
            "event-loop lag p99 (p99.9), scrapes every 5 s",
            "p99 < 5 ms",
            f"≤ {w['lag_p99_ms']:g} ms (≤ {w['lag_p999_ms']:g}); mean {w['lag_mean_ms']:.2f} ms",
            verdict(w["lag_p99_ms"] <= 5),
        ),
    ]


def render(r: dict[str, Any]) -> str:
    args, w = r["args"], r["window"]
    rows = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in window_rows(w, args["targets"]))
    sizes = "\n".join(
        f"| {s['targets']} | {s['samples']} | {s['bytes'] / 1024:.0f} KiB | "
        f"{s['p50_ms']:.1f} ms | {s['p99_ms']:.1f} ms |"
        for s in r["sizes"]
    )
    series = r["series"]
    met = verdict(series["per_target"] <= SERIES_AIM)
    biggest = max(r["sizes"], key=lambda x: x["samples"])
    per_sample = 1000 * biggest["p50_ms"] / biggest["samples"]
    scrape_share = 100 * w["scrape_ms"][0] / 1000 / args["scrape_every"]
    lo, med, hi = w["load1"]
    m = machine()
    quick = " --quick" if args["quick"] else ""
    quick += f" --name {args['name']}" if args["name"] != "daemon-load" else ""
    short = args["name"] != "daemon-load"
    title = f"Daemon load, short run (`{args['name']}`)" if short else "Daemon load"
    return f"""## {title}

{args["targets"]} simulator targets × every probe (10) at 30 s (simulator 50 ms Auth
latency, 40 ms sync delay, 10 ms jitter, as `config/examples/many-targets.yaml`), the
daemon as a child process. After {args["warm_up"]:g} s of warm-up, a {w["minutes"]:.1f}-min
window: /metrics scraped every {args["scrape_every"]:g} s from the bench (a fresh
connection each time; {w["scrapes"]} scrapes), CPU and RSS read from `/proc/<pid>` at
each scrape, loop lag from the daemon's own `consistency_event_loop_lag_seconds`
histogram (sampled every 250 ms; the bucket bounds are 1, 5, 10, 50 ms …, so a
percentile is "at most this bucket bound"). One run; percentiles are over the scrapes.

| figure | aim | measured | |
|---|---|---|---|
{rows}

**Scrape time vs number of series** ({args["scrapes"]} scrapes each,
0.5 s apart, once every job has run so every series exists):

| targets | samples | size | p50 | p99 |
|---|---|---|---|---|
{sizes}

**Series per target at the defaults**: a scrape with 1 target has {series["one"]} samples,
with 2 targets {series["two"]}: one target with all ten probes adds
**{series["per_target"]} samples** (aim ≤ {SERIES_AIM}: {met}).

**Reading it.** Rendering /metrics costs about {per_sample:.0f} µs per sample and grows
linearly with the series; at one scrape every {args["scrape_every"]:g} s, scraping alone
takes about {scrape_share:.1f}% of a core of the CPU above (at Prometheus' default 15 s,
{scrape_share * args["scrape_every"] / 15:.1f}%). RSS is not flat because the history ring
(`server.history`, 100 results per job by default) is still filling: at 30 s it takes
50 minutes to fill, and one recorded result holds about 2.1 KB (tracemalloc over 300
simulator results, `python -m bench memory`), so 1000 jobs need about
210 MB for it when full.

Load during the window (1-min loadavg, 2 cores shared with other engineers' test
suites{args["context"]}): median {med:.2f}, range
{lo:.2f}-{hi:.2f}.

Machine: {m["nproc"]} CPUs ({m["cpu"]}), {m["python"]}; date {m["date"]}.
Command: `python -m bench daemon-load{quick} --write`; raw figures in
`bench/results/{args["name"]}.json`.
"""


def write(text: str, section: str) -> None:
    write_section(section, text)
