"""Counter, Gauge and Histogram families that render themselves quickly.

The call API is prometheus_client's (`.labels(*values).inc()`, `.observe(v)`, `.set(v)`,
`.remove(*values)`), but each child keeps its sample lines' text ready, label values
escaped once when the child is made, and its values as plain floats: rendering a child
is one string operation. A family's lock guards its children, so an update from another
thread is safe; a child's samples are read under it, so they come from one moment.
"""

from __future__ import annotations

import math
import threading
from abc import abstractmethod
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import ClassVar, Generic, TypeVar

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from monitor.exposition import (
    Exportable,
    Registry,
    batches,
    check_names,
    go_float,
    header,
    label_text,
    series,
)

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class CounterChild:
    __slots__ = ("_lock", "_prefix", "_value")

    def __init__(self, lock: threading.Lock, prefix: str) -> None:
        self._lock, self._prefix, self._value = lock, prefix, 0.0

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        with self._lock:
            self._value += amount

    def get(self) -> float:
        return self._value

    def text(self) -> str:
        return f"{self._prefix}{go_float(self._value)}\n"


class GaugeChild:
    __slots__ = ("_lock", "_prefix", "_value")

    def __init__(self, lock: threading.Lock, prefix: str) -> None:
        self._lock, self._prefix, self._value = lock, prefix, 0.0

    def set(self, value: float) -> None:
        with self._lock:
            self._value = float(value)

    def inc(self, amount: float = 1) -> None:
        with self._lock:
            self._value += amount

    def dec(self, amount: float = 1) -> None:
        self.inc(-amount)

    def get(self) -> float:
        return self._value

    def text(self) -> str:
        return f"{self._prefix}{go_float(self._value)}\n"


class HistogramChild:
    """Bucket counts kept cumulative (an observation adds to every bucket it is under),
    as floats, so the text is one %-format of them, the count and the sum."""

    __slots__ = ("_bounds", "_counts", "_lock", "_sum", "_template")

    def __init__(self, lock: threading.Lock, bounds: Sequence[float], template: str) -> None:
        self._lock, self._bounds, self._template = lock, bounds, template
        self._counts = [0.0] * len(bounds)
        self._sum = 0.0

    def observe(self, amount: float) -> None:
        """Like prometheus_client: the first bucket whose bound is >= amount and every
        one above; NaN lands in no bucket (but poisons the sum)."""
        with self._lock:
            self._sum += amount
            if not math.isnan(amount):
                counts = self._counts
                for i in range(bisect_left(self._bounds, amount), len(counts)):
                    counts[i] += 1.0

    def snapshot(self) -> tuple[list[float], float]:
        """Cumulative bucket counts (the last is +Inf, the count) and the sum."""
        with self._lock:
            return list(self._counts), self._sum

    def text(self) -> str:
        counts, total = self._counts, self._sum
        if counts[-1] < 1e6 and -1e6 < total < 1e6:  # where go_float is repr, as %s is
            return self._template % (*counts, counts[-1], total)
        return self._template % tuple(map(go_float, (*counts, counts[-1], total)))


C = TypeVar("C", CounterChild, GaugeChild, HistogramChild)
V = TypeVar("V", CounterChild, GaugeChild)


class _Family(Exportable, Generic[C]):
    """A metric and its children, one per combination of label values."""

    kind: ClassVar[str]
    samples_each = 1  # samples a child has: how many children make a piece
    reserved: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        registry: Registry | None = None,
    ) -> None:
        self.name, self.documentation = name, documentation
        self.labelnames = tuple(labelnames)
        check_names(name, self.labelnames, self.reserved)
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], C] = {}
        self._headers = {
            om: header(name, documentation, self.kind, openmetrics=om) for om in (False, True)
        }
        if not self.labelnames:
            self._children[()] = self._child(())
        if registry is not None:
            registry.register(self)

    @abstractmethod
    def _child(self, values: tuple[str, ...]) -> C: ...

    def labels(self, *values: str) -> C:
        child = self._children.get(values)
        return child if child is not None else self._add(tuple(str(v) for v in values))

    def _add(self, values: tuple[str, ...]) -> C:
        if not self.labelnames:
            raise ValueError(f"{self.name} has no labels")
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: expected values for {self.labelnames}, got {values}")
        with self._lock:
            child = self._children.get(values)
            if child is None:
                child = self._children[values] = self._child(values)
            return child

    def remove(self, *values: str) -> None:
        """Drop a child and its series (nothing to do when there is none)."""
        if len(values) != len(self.labelnames) or not self.labelnames:
            raise ValueError(f"{self.name}: expected values for {self.labelnames}, got {values}")
        with self._lock:
            self._children.pop(tuple(str(v) for v in values), None)

    def label_values(self) -> list[tuple[str, ...]]:
        """The label values of every child."""
        with self._lock:
            return list(self._children) if self.labelnames else []

    def _children_now(self) -> list[tuple[tuple[str, ...], C]]:
        with self._lock:
            return list(self._children.items())

    def pieces(self, *, openmetrics: bool) -> Iterator[str]:
        yield self._headers[openmetrics]
        with self._lock:
            children = list(self._children.values())
        for part in batches(len(children), self.samples_each):
            with self._lock:  # never held across the yield: the loop may update meanwhile
                text = "".join([child.text() for child in children[part]])
            yield text


class _Single(_Family[V]):
    """A family whose children hold one value (counters, gauges)."""

    def get(self) -> float:
        """The value of an unlabelled metric."""
        return self.labels().get()

    def collect(self) -> Iterator[Metric]:
        family = self._empty_family()
        for values, child in self._children_now():
            family.add_metric(values, child.get())
        yield family

    @abstractmethod
    def _empty_family(self) -> CounterMetricFamily | GaugeMetricFamily: ...


class Counter(_Single[CounterChild]):
    kind = "counter"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        registry: Registry | None = None,
    ) -> None:
        super().__init__(name.removesuffix("_total"), documentation, labelnames, registry=registry)

    def _child(self, values: tuple[str, ...]) -> CounterChild:
        labels = label_text(self.labelnames, values)
        return CounterChild(self._lock, series(f"{self.name}_total", labels))

    def _empty_family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def inc(self, amount: float = 1) -> None:
        self.labels().inc(amount)


class Gauge(_Single[GaugeChild]):
    kind = "gauge"

    def _child(self, values: tuple[str, ...]) -> GaugeChild:
        return GaugeChild(self._lock, series(self.name, label_text(self.labelnames, values)))

    def _empty_family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def set(self, value: float) -> None:
        self.labels().set(value)

    def inc(self, amount: float = 1) -> None:
        self.labels().inc(amount)

    def dec(self, amount: float = 1) -> None:
        self.labels().dec(amount)


class Histogram(_Family[HistogramChild]):
    kind = "histogram"
    reserved = ("le",)

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        registry: Registry | None = None,
    ) -> None:
        self.bounds = _bounds(buckets)
        self.samples_each = len(self.bounds) + 2
        self._les = tuple(go_float(b) for b in self.bounds)
        super().__init__(name, documentation, labelnames, registry=registry)

    def _child(self, values: tuple[str, ...]) -> HistogramChild:
        return HistogramChild(self._lock, self.bounds, self._template(values))

    def _template(self, values: tuple[str, ...]) -> str:
        """The child's sample lines with a %s slot for each value (buckets, count, sum)."""
        names, name = self.labelnames, self.name
        lines = [
            series(f"{name}_bucket", label_text((*names, "le"), (*values, le))) for le in self._les
        ]
        lines.append(series(f"{name}_count", label_text(names, values)))
        lines.append(series(f"{name}_sum", label_text(names, values)))
        return "".join(line.replace("%", "%%") + "%s\n" for line in lines)

    def observe(self, amount: float) -> None:
        self.labels().observe(amount)

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in self._children_now():
            counts, total = child.snapshot()
            family.add_metric(values, list(zip(self._les, counts, strict=True)), total)
        yield family


def _bounds(buckets: Sequence[float]) -> tuple[float, ...]:
    bounds = [float(b) for b in buckets]
    if bounds != sorted(bounds):
        raise ValueError("Buckets not in sorted order")
    if not bounds or bounds[-1] != math.inf:
        bounds.append(math.inf)
    if len(bounds) < 2 or bounds[0] < 0:
        raise ValueError("need at least one finite bucket bound, none negative")
    return tuple(bounds)
