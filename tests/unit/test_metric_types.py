"""Our Counter, Gauge and Histogram: prometheus_client's API, its output, rendered faster."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Iterable
from typing import Any

import prometheus_client as pc
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from bench.render import WithoutCreated
from monitor.exposition import Registry
from monitor.metric_types import Counter, Gauge, Histogram
from monitor.scrape import render

TRICKY = 'back\\slash "quoted"\nnewline'
Parse = Callable[[str], Iterable[Metric]]
FORMATS: list[tuple[bool, Parse]] = [
    (False, text_string_to_metric_families),
    (True, openmetrics_families),
]


def samples(text: str, parse: Parse) -> list[tuple[str, dict[str, str], float]]:
    """Every sample but `_created` ones, in order."""
    return [
        (s.name, s.labels, s.value)
        for family in parse(text)
        for s in family.samples
        if not s.name.endswith("_created")
    ]


def families(text: str, parse: Parse) -> list[tuple[str, str, str]]:
    return [(f.name, f.type, f.documentation) for f in parse(text)]


@pytest.mark.parametrize(("openmetrics", "parse"), FORMATS)
def test_recorded_values_parse_back_in_both_formats(openmetrics: bool, parse: Parse) -> None:
    registry = Registry()
    runs = Counter("runs", "Runs.", ("target", "outcome"), registry=registry)
    level = Gauge("level", "Level.", registry=registry)
    latency = Histogram(
        "latency_seconds", "Latency.", ("target",), buckets=(0.1, 1.0), registry=registry
    )
    runs.labels(TRICKY, "pass").inc()
    runs.labels(TRICKY, "pass").inc(2.5)
    runs.labels("b", "fail")
    level.set(-4.5)
    for seconds in (0.05, 0.1, 0.7, 3.0):
        latency.labels(TRICKY).observe(seconds)
    text = render(registry, openmetrics=openmetrics).decode()
    assert samples(text, parse) == [
        ("runs_total", {"target": TRICKY, "outcome": "pass"}, 3.5),
        ("runs_total", {"target": "b", "outcome": "fail"}, 0.0),
        ("level", {}, -4.5),
        ("latency_seconds_bucket", {"target": TRICKY, "le": "0.1"}, 2.0),
        ("latency_seconds_bucket", {"target": TRICKY, "le": "1.0"}, 3.0),
        ("latency_seconds_bucket", {"target": TRICKY, "le": "+Inf"}, 4.0),
        ("latency_seconds_count", {"target": TRICKY}, 4.0),
        ("latency_seconds_sum", {"target": TRICKY}, 3.85),
    ]
    assert families(text, parse) == [
        ("runs", "counter", "Runs."),
        ("level", "gauge", "Level."),
        ("latency_seconds", "histogram", "Latency."),
    ]
    assert text.endswith("# EOF\n") == openmetrics


def test_a_counter_child_starts_at_zero_and_a_removed_child_disappears() -> None:
    registry = Registry()
    runs = Counter("runs", "Runs.", ("target",), registry=registry)
    runs.labels("kept")
    runs.labels("gone").inc()
    runs.remove("gone")
    text = render(registry).decode()
    assert 'runs_total{target="kept"} 0.0\n' in text
    assert "gone" not in text
    assert runs.label_values() == [("kept",)]
    runs.remove("gone")  # already gone: nothing to do, as in prometheus_client


def test_histogram_buckets_are_cumulative_and_inf_is_the_count() -> None:
    registry = Registry()
    latency = Histogram("h", "H.", buckets=(1.0, 2.0, 4.0), registry=registry)
    for seconds in (0.5, 1.0, 1.5, 3.0, 9.0, 9.0, -1.0):  # 1.0 is in le="1.0", -1 in the first
        latency.observe(seconds)
    [family] = text_string_to_metric_families(render(registry).decode())
    values = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert [values["h_bucket", le] for le in ("1.0", "2.0", "4.0", "+Inf")] == [3, 4, 5, 7]
    assert values["h_count", None] == values["h_bucket", "+Inf"] == 7
    assert values["h_sum", None] == 23.0


def test_a_nan_observation_counts_in_no_bucket_as_in_prometheus_client() -> None:
    ours, theirs = Histogram("h", "H."), pc.Histogram("h", "H.", registry=None)
    for metric in (ours, theirs):
        metric.observe(1.0)
        metric.observe(math.nan)
    assert _samples_of(ours)[:-1] == _samples_of(theirs)[:-1]  # the sum is NaN in both
    assert math.isnan(_samples_of(ours)[-1][2])


def _samples_of(metric: Any) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for f in metric.collect()
        for s in f.samples
        if "_created" not in s.name
    ]


def test_misuse_is_refused_like_prometheus_client() -> None:
    runs = Counter("runs", "Runs.", ("target",))
    with pytest.raises(ValueError):
        runs.labels("a").inc(-1)
    with pytest.raises(ValueError):
        runs.labels("a", "b")
    with pytest.raises(ValueError):
        Counter("plain", "Plain.").remove("a")
    with pytest.raises(ValueError):
        Histogram("h", "H.", ("le",))
    with pytest.raises(ValueError):
        Histogram("h", "H.", buckets=(2.0, 1.0))


# -- our render against prometheus_client's, on the same operations -------------------


class Twins:
    """Each metric made twice, ours and prometheus_client's, and every call made on both."""

    def __init__(self) -> None:
        self.ours, self.theirs = Registry(), pc.CollectorRegistry()

    def make(self, ours: type, theirs: type, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return ours(*args, registry=self.ours, **kwargs), theirs(
            *args, registry=self.theirs, **kwargs
        )


def twin_metrics(twins: Twins) -> dict[str, tuple[Any, Any]]:
    doc = 'Help with "quotes", a back\\slash\nand a newline.'
    return {
        "counter": twins.make(Counter, pc.Counter, "c_things", doc, ("target", "probe")),
        "plain_counter": twins.make(Counter, pc.Counter, "c_plain", "Plain counter."),
        "gauge": twins.make(Gauge, pc.Gauge, "g_level", "Level.", ("a",)),
        "plain_gauge": twins.make(Gauge, pc.Gauge, "g_plain", "Plain gauge."),
        "histogram": twins.make(
            Histogram,
            pc.Histogram,
            "h_seconds",
            doc,
            ("target", "call"),
            buckets=(0.005, 0.1, 1.0, 2.5),
        ),
        "plain_histogram": twins.make(Histogram, pc.Histogram, "h_plain", "Default buckets."),
    }


LABELS = ["sim-001", "", TRICKY, "%d %s {}", "ünïcode", "le"]
VALUES = [0.0, 0.005, 0.1, 0.42, 1.0, 2.5, 3.0, 12.0, 2e6, 1790000123.25]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_our_render_matches_prometheus_clients_sample_by_sample(seed: int) -> None:
    twins = Twins()
    metrics = twin_metrics(twins)
    random_calls_in_step(metrics, random.Random(seed), 400)
    clients = (generate_latest, openmetrics_latest)
    for (openmetrics, parse), client in zip(FORMATS, clients, strict=True):
        ours = render(twins.ours, openmetrics=openmetrics).decode()
        theirs = client(WithoutCreated(twins.theirs)).decode()
        assert families(ours, parse) == families(theirs, parse)
        assert samples(ours, parse) == samples(theirs, parse)


def random_calls_in_step(
    metrics: dict[str, tuple[Any, Any]], rng: random.Random, count: int
) -> None:
    """Random calls, each drawn once and made on both twins."""
    for _ in range(count):
        kind = rng.choice(list(metrics))
        ours, _ = metrics[kind]
        labels = [rng.choice(LABELS) for _ in ours.labelnames]
        value = rng.choice(VALUES)
        if kind.endswith("gauge") and rng.random() < 0.2:
            value = rng.choice([-value, math.inf, -math.inf])
        remove = bool(labels) and rng.random() < 0.05
        for metric in metrics[kind]:
            call(metric, kind, labels, value, remove)


def call(metric: Any, kind: str, labels: list[str], value: float, remove: bool) -> None:
    if remove:
        metric.remove(*labels)  # a child that is not there: nothing happens, in both
        return
    child = metric.labels(*labels) if labels else metric
    if kind.endswith("counter"):
        child.inc(value)
    elif kind.endswith("gauge"):
        child.set(value)
    else:
        child.observe(value)


def test_updates_from_other_threads_are_not_lost() -> None:
    runs, latency = Counter("runs", "Runs.", ("t",)), Histogram("h", "H.", buckets=(1.0,))

    def work() -> None:
        for _ in range(20_000):
            runs.labels("a").inc()
            latency.observe(0.5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runs.labels("a").get() == 80_000
    assert latency.labels().snapshot() == ([80_000.0, 80_000.0], 40_000.0)
