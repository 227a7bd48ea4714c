"""Status API and page at many jobs: how long making them holds the event loop.

    python -m bench status [--jobs 1000] [--repeats 5] [--quick] [--write]

A recorder holds `--jobs` jobs with full history rings (100 results each: real probe
results from the simulator on virtual time, every probe in turn). Measured per repeat:
- *whole*: the document made in one go and serialised, as `/api/status` did before it
  was streamed (`job_status` for every job, then `json.dumps`); the status page likewise
  (every row, then joined). On the event loop that is one stall of this length.
- *streamed*: the same document as the server now makes it, piece by piece
  (`status.json_object`, `statuspage.status_page`): the total, and how long one piece
  took (99.9th percentile and longest), which bounds how long the loop is held (the
  server gives the loop a turn after about 0.5 ms of pieces, `scrape.paced`, so a hold
  is that plus one piece).
Peak traced memory (tracemalloc) is measured once for each way, apart from the timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bench.memory import simulator_results
from bench.report import machine, write_section
from monitor.exposition import Registry
from monitor.metrics import Metrics
from monitor.probes import PROBE_NAMES
from monitor.recorder import Recorder
from monitor.status import job_status, job_status_json, json_object
from monitor.statuspage import STRIP, status_page

HISTORY = 100  # server.history's default
HEAD = {"version": "bench", "ready": True}


class NoSchedule:
    def next_run(self, target: str, probe: str) -> float | None:
        return None


def filled_recorder(jobs: int) -> Recorder:
    """`jobs` jobs (targets of ten probes), every ring full."""
    recorder = Recorder(Metrics(Registry()), history=HISTORY)
    targets = [f"sim-{i:04d}" for i in range(max(1, jobs // len(PROBE_NAMES)))]
    for target in targets:
        for probe in PROBE_NAMES:
            recorder.add_job(target, probe, interval=30.0, kinds=())
    for result in simulator_results(HISTORY):
        for target in targets:
            recorder.record(dataclasses.replace(result, target=target))
    return recorder


def api_whole(recorder: Recorder) -> str:
    jobs = [job_status(recorder, NoSchedule(), t, p, None) for t, p in recorder.jobs()]
    return json.dumps({**HEAD, "jobs": jobs})


def api_pieces(recorder: Recorder) -> Iterable[str]:
    jobs = (job_status_json(recorder, NoSchedule(), t, p, None) for t, p in recorder.jobs())
    return json_object(HEAD, "jobs", jobs)


def page_pieces(recorder: Recorder) -> Iterable[str]:
    keys = recorder.jobs()
    rows = (job_status(recorder, NoSchedule(), t, p, STRIP, detail=False) for t, p in keys)
    return status_page(HEAD, rows, len(keys))


def page_whole(recorder: Recorder) -> str:
    return "".join(page_pieces(recorder))  # every row made before the first byte is sent


def streamed(pieces: Iterable[str]) -> tuple[float, float, float, int]:
    """Total seconds, the 99.9th percentile and the longest of the pieces' seconds, and
    the characters made."""
    started = last = time.perf_counter()
    took, size = [], 0
    for piece in pieces:
        now = time.perf_counter()
        took.append(now - last)
        last = now
        size += len(piece)
    took.sort()
    return last - started, took[int(0.999 * (len(took) - 1))], took[-1], size


def timed(make: Callable[[], str]) -> float:
    started = time.perf_counter()
    make()
    return time.perf_counter() - started


def peak(run: Callable[[], Any]) -> float:
    """Peak traced MB above what was traced before."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    run()
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (top - base) / 2**20


def measure(recorder: Recorder, repeats: int) -> dict[str, Any]:
    rows: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, pieces in (("api", api_pieces), ("page", page_pieces)):
            total, p999, longest, size = streamed(pieces(recorder))
            rows.setdefault(f"{name}_streamed_s", []).append(total)
            rows.setdefault(f"{name}_p999_piece_s", []).append(p999)
            rows.setdefault(f"{name}_longest_piece_s", []).append(longest)
            rows[f"{name}_mb"] = [size / 2**20]
        rows.setdefault("api_whole_s", []).append(timed(lambda: api_whole(recorder)))
        rows.setdefault("page_whole_s", []).append(timed(lambda: page_whole(recorder)))
    return {
        "medians": {k: statistics.median(v) for k, v in rows.items()},
        "ranges": {k: (min(v), max(v)) for k, v in rows.items()},
        "peak_mb": {
            "api_whole": peak(lambda: api_whole(recorder)),
            "api_streamed": peak(lambda: streamed(api_pieces(recorder))),
        },
    }


def render(r: dict[str, Any]) -> str:
    m, rg, pk, args = r["medians"], r["ranges"], r["peak_mb"], r["args"]

    def ms(key: str) -> str:
        lo, hi = rg[key]
        return f"{1000 * m[key]:.1f} ms ({1000 * lo:.1f}-{1000 * hi:.1f})"

    def row(label: str, name: str) -> str:
        cells = [
            ms(f"{name}_whole_s"),
            ms(f"{name}_streamed_s"),
            ms(f"{name}_p999_piece_s"),
            ms(f"{name}_longest_piece_s"),
        ]
        return f"| {label} | {' | '.join(cells)} | {m[f'{name}_mb']:.1f} MB |"

    flags = " --quick" if args["quick"] else ""
    return f"""## Status API and page at {args["jobs"]} jobs

**Figure.** How long making `GET /api/status` (every kept result) and the status page
holds the event loop, made whole (as before they were streamed) and piece by piece (as
the server makes them now, giving the loop a turn after about 0.5 ms of pieces).

**Setup.** A recorder with {args["jobs"]} jobs, each with a full ring of {HISTORY}
results: the simulator's real probe results (every probe in turn, virtual time). No
server: the same functions the handlers call, timed in one process. Median (min-max) of
{args["repeats"]} repeats.

| | made whole: one stall | streamed: total | a piece, p99.9 | longest piece | size |
|---|---|---|---|---|---|
{row("`/api/status`", "api")}
{row("status page", "page")}

Peak traced memory while making `/api/status` (tracemalloc, once each): made whole
{pk["api_whole"]:.0f} MB, streamed {pk["api_streamed"]:.1f} MB.

**Reading it.** Streamed, the total work is about the same, but no piece holds the loop
for long: a probe's timer waits at most one budget (0.5 ms) plus one piece. The longest
of the ~200k pieces is one in a run: the largest regular pieces are a job's head (its
last result decoded), under a millisecond; the rare longer one is the machine's (the
process preempted on a shared 2-core VM, or a collection of the garbage collector).

Machine: {r["machine"]["nproc"]} CPUs ({r["machine"]["cpu"]}), {r["machine"]["python"]};
date {r["machine"]["date"]}.
Command: `python -m bench status{flags} --jobs {args["jobs"]} --repeats {args["repeats"]} --write`
"""


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench status", description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000, help="target × probe jobs (1000)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats timed (5)")
    parser.add_argument("--quick", action="store_true", help="100 jobs, 2 repeats")
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    args = parser.parse_args(list(argv))
    if args.quick:
        args.jobs, args.repeats = 100, 2
    logging.disable(logging.CRITICAL)
    recorder = filled_recorder(args.jobs)
    result = {**measure(recorder, args.repeats), "args": vars(args), "machine": machine()}
    text = render(result)
    print(text)
    if args.write:
        write_section("status" if not args.quick else "status-quick", text)
    return 0
