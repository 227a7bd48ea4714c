"""Durations: `250ms`, `1.5s`, `5m`, `1m30s` and plain numbers of seconds."""

from __future__ import annotations

import re

import pytest

from monitor.durations import DURATION_HINT, DURATION_PATTERN, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("30", 30.0),
        ("0.5", 0.5),
        ("0s", 0.0),
        (" 40ms ", 0.04),
        ("1m30s", 90.0),
        ("1h30m", 5400.0),
        ("1s500ms", 1.5),
        (30, 30.0),
        (1.25, 1.25),
        (0, 0.0),
    ],
)
def test_a_duration_is_read_as_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "soon",
        "5 minutes",
        "-1s",
        ".5s",
        "1,5s",
        "1e3",
        "5d",
        "5M",
        "30s1m",
        "1m1m",
        "5m30",
        "ms",
        True,
        None,
        [1],
        float("nan"),
        float("inf"),
    ],
)
def test_a_bad_duration_is_rejected_with_a_hint(text: object) -> None:
    with pytest.raises(ValueError, match=re.escape(DURATION_HINT)):
        parse_duration(text)


def test_the_hint_does_not_echo_the_value() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("hunter2")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.04, "40ms"), (0.0005, "0.5ms"), (1.5, "1.5s"), (0, "0s"), (90, "90s"), (300, "5m"),
     (7200, "2h"), (5400, "90m")],
)  # fmt: skip
def test_a_duration_is_formatted_in_its_shortest_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["250ms", "1.5s", "5m", "30", "1m30s", " 2 m "])
def test_the_schema_pattern_accepts_what_the_parser_accepts(text: str) -> None:
    assert re.match(DURATION_PATTERN, text)


@pytest.mark.parametrize("text", ["soon", "-1s", ".5s", "5d", ""])
def test_the_schema_pattern_rejects_what_the_parser_rejects(text: str) -> None:
    assert not re.match(DURATION_PATTERN, text)
