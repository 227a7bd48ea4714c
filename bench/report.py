"""What every benchmark shares: statistics, the machine description, BENCHMARKS.md sections."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
from collections.abc import Sequence
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"

INTRO = """# Benchmarks

Measured numbers for consistency-monitor, each with the aim it is held to, the machine
it ran on and the command that reproduces it. Every section is written by its own
benchmark (`python -m bench <name> --write`), which rewrites only the text between
its marker comments and leaves the rest of this file alone.
"""


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float], unit: str = "", scale: float = 1.0, digits: int = 2) -> str:
    """`median (min-max)` of the repeats, scaled into the display unit."""
    med, lo, hi = (v * scale for v in (statistics.median(values), min(values), max(values)))
    return f"{med:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def machine() -> dict[str, str]:
    """Where a benchmark ran, as it is reported next to its numbers."""
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
    }


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else "unknown"


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Put `body` between this benchmark's markers, creating the file or section if needed."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else INTRO
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = f"{text.rstrip()}\n\n{block}\n"
    path.write_text(text)
