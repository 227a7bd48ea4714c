"""Human-readable reports of results: the `check` table and `--repeat` summaries."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.results import ProbeResult, Sync


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


def syncs_cell(syncs: Sequence[Sync]) -> str:
    """`create 41ms, update 40ms`; several of one operation show their worst and count."""
    parts = []
    for op in dict.fromkeys(s.operation for s in syncs):
        seen = [s.seconds for s in syncs if s.operation == op]
        arrived = [s for s in seen if s is not None]
        worst = "never" if len(arrived) < len(seen) else ms(max(arrived))
        parts.append(f"{op} {worst}" + (f" (max of {len(seen)})" if len(seen) > 1 else ""))
    return ", ".join(parts) or "-"


def found_cell(result: ProbeResult) -> str:
    notes = [f"{i.kind}: {i.detail}" for i in result.inconsistencies]
    if result.error:
        notes.append(f"error: {result.error}")
    return "; ".join(notes) or "-"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)


def results_table(results: Iterable[ProbeResult]) -> str:
    rows = [
        (r.target, r.probe, r.outcome.upper(), syncs_cell(r.syncs), ms(r.duration_seconds),
         found_cell(r))
        for r in results
    ]
    return table(rows, ("TARGET", "PROBE", "OUTCOME", "SYNC LATENCY", "TOTAL", "FOUND"))


def tally(results: Sequence[ProbeResult]) -> str:
    counts = {o: sum(r.outcome == o for r in results) for o in ("pass", "fail", "error")}
    return (f"{len(results)} runs: {counts['pass']} passed, {counts['fail']} failed, "
            f"{counts['error']} errors")


@dataclass(frozen=True)
class Summary:
    """Success rate and latency percentiles of one target × probe over repeated runs."""

    target: str
    probe: str
    runs: int
    passed: int
    failed: int
    errors: int
    latency: dict[str, tuple[float, float, int]]  # operation → (p50, p99, observations)
    duration_p50: float


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(results: Sequence[ProbeResult]) -> list[Summary]:
    keys = dict.fromkeys((r.target, r.probe) for r in results)
    return [_summary(t, p, [r for r in results if (r.target, r.probe) == (t, p)]) for t, p in keys]


def _summary(target: str, probe: str, runs: Sequence[ProbeResult]) -> Summary:
    syncs = [s for r in runs for s in r.syncs if s.seconds is not None]
    latency = {}
    for op in dict.fromkeys(s.operation for s in syncs):
        values = [s.seconds for s in syncs if s.operation == op and s.seconds is not None]
        latency[op] = (percentile(values, 0.5), percentile(values, 0.99), len(values))
    return Summary(
        target, probe, len(runs),
        sum(r.outcome == "pass" for r in runs), sum(r.outcome == "fail" for r in runs),
        sum(r.outcome == "error" for r in runs), latency,
        statistics.median(r.duration_seconds for r in runs),
    )


def summary_table(summaries: Iterable[Summary]) -> str:
    rows = []
    for s in summaries:
        lat = ", ".join(f"{op} p50 {ms(p50)} p99 {ms(p99)}" for op, (p50, p99, _) in s.latency.items())
        rows.append((s.target, s.probe, str(s.runs), f"{100 * s.passed / s.runs:.1f}%",
                     str(s.failed), str(s.errors), ms(s.duration_p50), lat or "-"))
    header = ("TARGET", "PROBE", "RUNS", "SUCCESS", "FAIL", "ERROR", "TOTAL P50", "SYNC LATENCY")
    return table(rows, header)


def summary_to_dict(s: Summary) -> dict[str, object]:
    return {
        "target": s.target, "probe": s.probe, "runs": s.runs, "passed": s.passed,
        "failed": s.failed, "errors": s.errors, "success_ratio": s.passed / s.runs,
        "duration_p50_seconds": s.duration_p50,
        "sync_latency": {
            op: {"p50_seconds": p50, "p99_seconds": p99, "observations": n}
            for op, (p50, p99, n) in s.latency.items()
        },
    }
