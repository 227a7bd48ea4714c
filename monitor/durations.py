"""Parsing and formatting of durations such as `250ms`, `1.5s`, `5m`, `1m30s`."""

from __future__ import annotations

import math
import re

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}  # largest first, the order required
_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})\s*(ms|h|m|s)\s*")
_PLAIN = re.compile(rf"^\s*({_NUMBER})\s*$")
_COMPOSITE = re.compile(rf"^\s*(?:{_NUMBER}\s*(?:ms|h|m|s)\s*)+$")
DURATION_PATTERN = rf"^\s*({_NUMBER}|({_NUMBER}\s*(ms|h|m|s)\s*)+)\s*$"  # for the JSON Schema
DURATION_HINT = "not a duration (expected e.g. 500ms, 30s, 5m)"


def parse_duration(value: object) -> float:
    """Seconds from `250ms`, `1.5s`, `5m`, `1h`, `1m30s` or a plain number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and (match := _PLAIN.match(value)):
        return float(match.group(1))
    if isinstance(value, str) and _COMPOSITE.match(value):
        return _composite(value)
    raise ValueError(DURATION_HINT)


def _composite(text: str) -> float:
    """`1m30s` → 90; units must go from largest to smallest, each at most once."""
    parts = _PART.findall(text)
    ranks = [list(_UNITS).index(unit) for _, unit in parts]
    if ranks != sorted(set(ranks)):
        raise ValueError(DURATION_HINT)
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """The shortest form that reads back to the same value: `40ms`, `1.5s`, `5m`, `2h`."""
    if 0 < seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit in ("h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"
