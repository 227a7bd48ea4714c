"""Human-readable reports of results: the `check` table and `--repeat` summaries."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.results import ProbeResult, Sync


def ms(seconds: float) -> str:
    """`0.4ms`, `41ms`, `1.25s`: enough digits to tell fast from slow at a glance."""
    if seconds < 0.01:
        return f"{seconds * 1000:.1f}ms"
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


def syncs_cell(syncs: Sequence[Sync]) -> str:
    """`create 41ms, update 40ms`; several of one operation show their worst and count."""
    return ", ".join(_operation_cell(op, syncs) for op in _operations(syncs)) or "-"


def _operations(syncs: Sequence[Sync]) -> list[str]:
    return list(dict.fromkeys(s.operation for s in syncs))


def _operation_cell(op: str, syncs: Sequence[Sync]) -> str:
    """`update 40ms`, `update 40ms (max of 3)`, `update never`, `update never (1 of 3)`."""
    seen = [s.seconds for s in syncs if s.operation == op]
    arrived = [s for s in seen if s is not None]
    if len(arrived) < len(seen):
        count = f" ({len(arrived)} of {len(seen)} arrived)" if len(seen) > 1 else ""
        return f"{op} never{count}"
    return f"{op} {ms(max(arrived))}" + (f" (max of {len(seen)})" if len(seen) > 1 else "")


def found_cell(result: ProbeResult) -> str:
    notes = [f"{i.kind}: {i.detail}" for i in result.inconsistencies]
    if result.error:
        notes.append(f"error: {result.error}")
    return "; ".join(notes) or "-"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Columns padded to their widest cell; the last one, free text, is left ragged."""
    every = [header, *rows]
    widths = [max(len(r[i]) for r in every) for i in range(len(header) - 1)]
    lines = []
    for row in every:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def results_table(results: Iterable[ProbeResult]) -> str:
    header = ("TARGET", "PROBE", "OUTCOME", "SYNC LATENCY", "TOTAL", "FOUND")
    return table([_result_row(r) for r in results], header)


def _result_row(r: ProbeResult) -> tuple[str, ...]:
    return (
        r.target,
        r.probe,
        r.outcome.upper(),
        syncs_cell(r.syncs),
        ms(r.duration_seconds),
        found_cell(r),
    )


def tally(results: Sequence[ProbeResult]) -> str:
    counts = {o: sum(r.outcome == o for r in results) for o in ("pass", "fail", "error")}
    return (
        f"{len(results)} runs: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['error']} errors"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} is outside 0..1")
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Latency:
    """Sync latency of one operation over repeated runs; `never` counts syncs that timed out."""

    p50: float | None
    p99: float | None
    observations: int
    never: int


@dataclass(frozen=True)
class Summary:
    """Success rate and latency percentiles of one target and probe over repeated runs."""

    target: str
    probe: str
    runs: int
    passed: int
    failed: int
    errors: int
    latency: dict[str, Latency]  # by operation
    duration_p50: float


def summarise(results: Sequence[ProbeResult]) -> list[Summary]:
    """One summary per target and probe, in the order they first appear."""
    keys = dict.fromkeys((r.target, r.probe) for r in results)
    return [_summary(t, p, [r for r in results if (r.target, r.probe) == (t, p)]) for t, p in keys]


def _summary(target: str, probe: str, runs: Sequence[ProbeResult]) -> Summary:
    syncs = [s for r in runs for s in r.syncs]
    return Summary(
        target,
        probe,
        len(runs),
        sum(r.outcome == "pass" for r in runs),
        sum(r.outcome == "fail" for r in runs),
        sum(r.outcome == "error" for r in runs),
        {
            op: _latency([s.seconds for s in syncs if s.operation == op])
            for op in _operations(syncs)
        },
        percentile([r.duration_seconds for r in runs], 0.5),
    )


def _latency(seconds: Sequence[float | None]) -> Latency:
    arrived = [s for s in seconds if s is not None]
    if not arrived:
        return Latency(None, None, 0, len(seconds))
    p50, p99 = percentile(arrived, 0.5), percentile(arrived, 0.99)
    return Latency(p50, p99, len(arrived), len(seconds) - len(arrived))


def _latency_cell(op: str, lat: Latency) -> str:
    if lat.p50 is None or lat.p99 is None:
        return f"{op} never"
    never = f" ({lat.never} never)" if lat.never else ""
    return f"{op} p50 {ms(lat.p50)} p99 {ms(lat.p99)}{never}"


def summary_table(summaries: Iterable[Summary]) -> str:
    header = ("TARGET", "PROBE", "RUNS", "SUCCESS", "FAIL", "ERROR", "TOTAL P50", "SYNC LATENCY")
    return table([_summary_row(s) for s in summaries], header)


def _summary_row(s: Summary) -> tuple[str, ...]:
    latency = ", ".join(_latency_cell(op, lat) for op, lat in s.latency.items())
    return (
        s.target,
        s.probe,
        str(s.runs),
        f"{100 * s.passed / s.runs:.1f}%",
        str(s.failed),
        str(s.errors),
        ms(s.duration_p50),
        latency or "-",
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def summary_to_dict(s: Summary) -> dict[str, object]:
    """The JSON form of a summary, in the units and rounding of `result_to_dict`."""
    return {
        "target": s.target,
        "probe": s.probe,
        "runs": s.runs,
        "passed": s.passed,
        "failed": s.failed,
        "errors": s.errors,
        "success_ratio": round(s.passed / s.runs, 6),
        "duration_p50_seconds": _rounded(s.duration_p50),
        "sync_latency": {
            op: {
                "p50_seconds": _rounded(lat.p50),
                "p99_seconds": _rounded(lat.p99),
                "observations": lat.observations,
                "never": lat.never,
            }
            for op, lat in s.latency.items()
        },
    }
