"""Prometheus text 0.0.4 and OpenMetrics 1.0.0, written in short pieces.

prometheus_client renders a sample in 8-20 µs; at 100 targets (33,000 samples) a scrape
took several hundred milliseconds holding the GIL. Our own families (metric_types) and
collectors (RowGauge) keep each series' label text escaped and formatted, so a piece of
a hundred-odd samples renders in a fraction of a millisecond, and the server (scrape.py)
gives the event loop a turn between pieces. The text is what prometheus_client writes for
the same metrics (tests compare the two).
"""

from __future__ import annotations

import itertools
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence

from prometheus_client.exposition import generate_latest as text_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import Collector

PIECE_SAMPLES = 128  # samples per piece: a tenth of a millisecond or so of rendering
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def check_names(name: str, labelnames: Sequence[str], reserved: Sequence[str] = ()) -> None:
    """Only names both formats take as they are (no quoting or escaping schemes)."""
    if not METRIC_NAME.match(name):
        raise ValueError(f"invalid metric name {name!r}")
    for label in labelnames:
        if not LABEL_NAME.match(label) or label.startswith("__") or label in reserved:
            raise ValueError(f"{name}: invalid label name {label!r}")
    if len(set(labelnames)) != len(labelnames):
        raise ValueError(f"{name}: duplicate label names {labelnames!r}")


def escape_label_value(value: str) -> str:
    """Backslash, newline and double quote escaped, as both formats define."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def escape_help(text: str, *, openmetrics: bool) -> str:
    """HELP text: the text format escapes backslash and newline; OpenMetrics also `"`."""
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return text.replace('"', r"\"") if openmetrics else text


def go_float(value: float) -> str:
    """A sample value as prometheus_client's floatToGoString writes it: `+Inf`, `-Inf`,
    `NaN`, Python's repr, but from a million up Go's exponent form (`1.5e+06`)."""
    if -1e6 < value < 1e6:  # the common case, first
        return repr(float(value))
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def label_text(names: Sequence[str], values: Sequence[str]) -> str:
    """`a="1",b="2"`: pairs in label-name order (as prometheus_client writes them)."""
    pairs = sorted(zip(names, values, strict=True))
    return ",".join(f'{name}="{escape_label_value(value)}"' for name, value in pairs)


def series(name: str, labels: str) -> str:
    """A sample line up to its value: `name{labels} ` (`name ` without labels)."""
    return f"{name}{{{labels}}} " if labels else f"{name} "


def header(name: str, documentation: str, kind: str, *, openmetrics: bool) -> str:
    """`# HELP` and `# TYPE` of a counter, gauge or histogram family (`name` without
    `_total`): the text format names a counter family `name_total`, OpenMetrics `name`."""
    shown = f"{name}_total" if kind == "counter" and not openmetrics else name
    text = escape_help(documentation, openmetrics=openmetrics)
    return f"# HELP {shown} {text}\n# TYPE {shown} {kind}\n"


def batches(count: int, samples_each: int) -> Iterator[slice]:
    """Slices of `count` series, each about PIECE_SAMPLES samples."""
    step = max(1, PIECE_SAMPLES // max(1, samples_each))
    for start in range(0, count, step):
        yield slice(start, start + step)


class Exportable(ABC):
    """Something on the registry: renders its own pieces, and can show itself as
    prometheus_client families (for docs, tests and `get_sample_value`)."""

    @abstractmethod
    def collect(self) -> Iterable[Metric]: ...

    @abstractmethod
    def pieces(self, *, openmetrics: bool) -> Iterator[str]:
        """The family texts, each piece a bounded amount of work."""


class _Only:
    """A collector of one family, to hand it to a prometheus_client encoder."""

    def __init__(self, family: Metric) -> None:
        self._family = family

    def collect(self) -> Iterable[Metric]:
        return [self._family]


class Foreign(Exportable):
    """A prometheus_client collector (process_*, python_info): small, so rendered by
    prometheus_client itself, one family per piece, without `_created` samples."""

    def __init__(self, inner: Collector) -> None:
        self._inner = inner

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            created = f"{family.name}_created"
            family.samples = [s for s in family.samples if s.name != created]
            yield family

    def pieces(self, *, openmetrics: bool) -> Iterator[str]:
        for family in self.collect():
            if openmetrics:
                text = openmetrics_latest(_Only(family))  # type: ignore[no-untyped-call]
                yield text.decode().removesuffix("# EOF\n")
            else:
                yield text_latest(_Only(family)).decode()


class Registry:
    """What /metrics exports, in registration order."""

    def __init__(self) -> None:
        self._items: list[Exportable] = []

    def register(self, item: Exportable | Collector) -> None:
        self._items.append(item if isinstance(item, Exportable) else Foreign(item))

    def collect(self) -> Iterator[Metric]:
        for item in list(self._items):
            yield from item.collect()

    def pieces(self, *, openmetrics: bool) -> Iterator[str]:
        for item in list(self._items):
            yield from item.pieces(openmetrics=openmetrics)
        if openmetrics:
            yield "# EOF\n"

    def get_sample_value(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """One sample's value, None when absent (like CollectorRegistry's)."""
        wanted = dict(labels or {})
        for family in self.collect():
            for sample in family.samples:
                if sample.name == name and sample.labels == wanted:
                    return float(sample.value)
        return None


Row = tuple[tuple[str, ...], float]


class RowGauge:
    """A gauge family whose series a custom collector reads at scrape time, as rows of
    (label values, value); the label text of each row is kept for the next scrape."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        check_names(name, labelnames)
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self._headers = {
            om: header(name, documentation, "gauge", openmetrics=om) for om in (False, True)
        }
        self._prefixes: dict[tuple[str, ...], str] = {}

    def _prefix(self, values: tuple[str, ...]) -> str:
        prefix = self._prefixes.get(values)
        if prefix is None:
            prefix = series(self.name, label_text(self.labelnames, values))
            self._prefixes[values] = prefix
        return prefix

    def pieces(self, rows: Iterable[Row], *, openmetrics: bool) -> Iterator[str]:
        """The family's text; `rows` may be lazy: it is drawn a piece at a time."""
        yield self._headers[openmetrics]
        rows, seen = iter(rows), 0
        while batch := list(itertools.islice(rows, PIECE_SAMPLES)):
            seen += len(batch)
            yield "".join([f"{self._prefix(v)}{go_float(x)}\n" for v, x in batch])
        if len(self._prefixes) > 2 * seen + 100:  # many series went away
            self._prefixes.clear()

    def family(self, rows: Iterable[Row]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, value in rows:
            family.add_metric(values, value)
        return family


class RowsCollector(Exportable):
    """A custom collector: gauge families read from the daemon's state at scrape time."""

    @abstractmethod
    def families(self) -> Iterator[tuple[RowGauge, Iterable[Row]]]:
        """Every family with its rows, all from the state read once; rows may be a lazy
        iterable (made as they are rendered), so a large collector renders in pieces."""

    def collect(self) -> Iterator[Metric]:
        for gauge, rows in self.families():
            yield gauge.family(rows)

    def pieces(self, *, openmetrics: bool) -> Iterator[str]:
        for gauge, rows in self.families():
            yield from gauge.pieces(rows, openmetrics=openmetrics)
