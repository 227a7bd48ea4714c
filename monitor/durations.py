"""Parsing and formatting of durations such as `250ms`, `1.5s`, `5m`."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
DURATION_HINT = "not a duration (expected e.g. 500ms, 30s, 5m)"


def parse_duration(value: object) -> float:
    """Seconds from `250ms`, `1.5s`, `5m`, `1h` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(DURATION_HINT)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and (match := _PATTERN.match(value)):
        return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise ValueError(DURATION_HINT)


def format_duration(seconds: float) -> str:
    """The shortest readable form: `40ms`, `1.212 s` style is for details, this is for config."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    return f"{seconds / 60:g}m"
