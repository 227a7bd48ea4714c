"""The exposition primitives: escaping, Go float text, scrape-time gauges, the registry."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client import Counter as ClientCounter
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from monitor.exposition import (
    Registry,
    Row,
    RowGauge,
    RowsCollector,
    check_names,
    escape_help,
    escape_label_value,
    go_float,
    header,
)
from monitor.metric_types import Gauge
from monitor.scrape import render

TRICKY = 'back\\slash "quoted"\nnewline'
FLOATS = [
    0.0,
    -0.0,
    1.0,
    0.005,
    0.1,
    2.5,
    -3.25,
    999999.9,
    1e6,
    1.5e6,
    1234567.0,
    1790000123.456,
    -1234567.0,
    1e16,
    1.5e20,
    1e-05,
    5e-324,
    math.inf,
    -math.inf,
    math.nan,
]


@pytest.mark.parametrize("value", FLOATS, ids=repr)
def test_go_float_writes_what_prometheus_client_writes(value: float) -> None:
    assert go_float(value) == floatToGoString(value)


def test_go_float_edge_cases_read_as_go_prints_them() -> None:
    assert [go_float(v) for v in (math.inf, -math.inf, math.nan)] == ["+Inf", "-Inf", "NaN"]
    assert [go_float(v) for v in (1.0, 0.005, 1e6, 1.5e6, 0.0)] == [
        "1.0",
        "0.005",
        "1e+06",
        "1.5e+06",
        "0.0",
    ]


def test_label_values_escape_backslash_quote_and_newline() -> None:
    assert escape_label_value(TRICKY) == 'back\\\\slash \\"quoted\\"\\nnewline'


def test_help_escapes_quotes_only_in_openmetrics() -> None:
    doc = 'say "hi"\\\nbye'
    assert escape_help(doc, openmetrics=False) == 'say "hi"\\\\\\nbye'
    assert escape_help(doc, openmetrics=True) == 'say \\"hi\\"\\\\\\nbye'


def test_counter_family_is_named_with_total_only_in_the_text_format() -> None:
    assert (
        header("x", "d", "counter", openmetrics=False)
        == "# HELP x_total d\n# TYPE x_total counter\n"
    )
    assert header("x", "d", "counter", openmetrics=True) == "# HELP x d\n# TYPE x counter\n"


@pytest.mark.parametrize(
    ("name", "labels"),
    [("1bad", ()), ("ok", ("bad-label",)), ("ok", ("__reserved",)), ("ok", ("a", "a"))],
)
def test_names_either_format_would_have_to_quote_are_refused(
    name: str, labels: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        check_names(name, labels)


class Rows(RowsCollector):
    def __init__(self, rows: list[tuple[tuple[str, ...], float]]) -> None:
        self.rows = rows
        self.gauge = RowGauge("rows", 'Rows "read" at scrape time.', ("a", "b"))

    def families(self) -> Iterator[tuple[RowGauge, Iterable[Row]]]:
        yield self.gauge, iter(self.rows)  # lazy rows, as LastRunCollector gives them


def test_a_scrape_time_gauge_parses_back_to_its_rows_in_both_formats() -> None:
    rows = [(("x", TRICKY), 1.0), (("y", "z"), 1790000123.5), (("w", ""), math.inf)]
    registry = Registry()
    registry.register(Rows(rows))
    for text, parse in (
        (render(registry).decode(), text_string_to_metric_families),
        (render(registry, openmetrics=True).decode(), openmetrics_families),
    ):
        [family] = parse(text)
        assert (family.name, family.type, family.documentation) == (
            "rows",
            "gauge",
            'Rows "read" at scrape time.',
        )
        assert [(s.labels, s.value) for s in family.samples] == [
            ({"a": a, "b": b}, v) for (a, b), v in rows
        ]


def test_a_scrape_time_gauge_renders_as_prometheus_client_would() -> None:
    rows = [(("x", TRICKY), 1.0), (("y", "z"), 2.5e6)]
    registry = Registry()
    registry.register(Rows(rows))
    assert render(registry) == generate_latest(registry)


def test_registry_reads_sample_values_back() -> None:
    registry = Registry()
    Gauge("g", "d", ("a",), registry=registry).labels("1").set(3)
    assert registry.get_sample_value("g", {"a": "1"}) == 3.0
    assert registry.get_sample_value("g", {"a": "2"}) is None


def test_prometheus_client_collectors_are_exported_without_created_series() -> None:
    inner = CollectorRegistry()
    ClientCounter("legacy", "A prometheus_client counter.", registry=inner).inc(2)
    registry = Registry()
    registry.register(inner)
    registry.register(ProcessCollector(registry=None))
    for openmetrics in (False, True):
        text = render(registry, openmetrics=openmetrics).decode()
        assert "_created" not in text
        assert "legacy_total 2.0\n" in text
        assert "process_cpu_seconds_total" in text
    assert render(registry, openmetrics=True).decode().endswith("# EOF\n")
