"""Answering a scrape: negotiation, gzip, and rendering that lets the event loop run."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any, cast

import pytest
from aiohttp import test_utils
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from monitor.exposition import Registry
from monitor.metric_types import Counter, Histogram
from monitor.scrape import chunks, negotiate, render, render_async
from monitor.web import AppState, make_app

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def busy_registry(targets: int = 40) -> tuple[Registry, Counter, Histogram]:
    registry = Registry()
    runs = Counter("runs", "Runs.", ("target", "outcome"), registry=registry)
    latency = Histogram("latency_seconds", "Latency.", ("target", "call"), registry=registry)
    for t in range(targets):
        for call in ("create", "get", "update", "delete"):
            latency.labels(f"t{t}", call).observe(0.01 * t)
        for outcome in ("pass", "fail", "error"):
            runs.labels(f"t{t}", outcome).inc(t)
    return registry, runs, latency


def test_plain_text_unless_the_scraper_asks_for_openmetrics() -> None:
    plain = negotiate({})
    assert (plain.openmetrics, plain.gzip_level) == (False, None)
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    asked = negotiate({"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"})
    assert asked.openmetrics
    assert asked.headers["Content-Type"].startswith(
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    assert asked.headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [("gzip", True), ("deflate, GZIP", True), ("gzip;q=0", False), ("br", False), ("", False)],
)
def test_gzip_only_when_accepted(accept_encoding: str, gzipped: bool) -> None:
    answer = negotiate({"Accept-Encoding": accept_encoding})
    assert (answer.gzip_level is not None) == gzipped
    assert ("Content-Encoding" in answer.headers) == gzipped


async def test_a_gzipped_body_is_the_plain_body_compressed() -> None:
    registry, _, _ = busy_registry()
    for openmetrics in (False, True):
        body = await render_async(registry, openmetrics=openmetrics, gzip_level=1)
        assert gzip.decompress(body) == render(registry, openmetrics=openmetrics)


async def test_rendering_gives_the_event_loop_a_turn_between_chunks() -> None:
    registry, _, _ = busy_registry()
    turns = 0
    done = False

    async def other_task() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    taken = [len(c) async for c in chunks(registry, budget=0.0)]
    done = True
    await other
    assert len(taken) > 10, "a registry this size renders in many chunks"
    assert turns >= len(taken) - 1


async def test_updates_between_chunks_leave_every_histogram_child_consistent() -> None:
    registry, runs, latency = busy_registry()
    rendering = True

    async def meddle() -> None:
        n = 0
        while rendering:
            n += 1
            latency.labels(f"t{n % 40}", "get").observe(0.5)
            latency.labels(f"new{n}", "get").observe(0.1)
            runs.remove(f"t{n % 40}", "fail")
            await asyncio.sleep(0)

    meddler = asyncio.create_task(meddle())
    body = b"".join([c async for c in chunks(registry, budget=0.0)])
    rendering = False
    await meddler
    [_, histogram] = text_string_to_metric_families(body.decode())
    for child in by_child(histogram.samples).values():
        buckets = [s.value for s in child if s.name.endswith("_bucket")]
        [count] = [s.value for s in child if s.name.endswith("_count")]
        assert buckets == sorted(buckets)
        assert buckets[-1] == count


def by_child(samples: list[Sample]) -> dict[tuple[tuple[str, str], ...], list[Sample]]:
    """A histogram's samples grouped by child (its labels but `le`)."""
    found: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
    for sample in samples:
        key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        found.setdefault(key, []).append(sample)
    return found


class State:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry


async def get_metrics(registry: Registry, headers: dict[str, str]) -> tuple[dict[str, Any], str]:
    app = make_app(cast(AppState, State(registry)))
    async with test_utils.TestClient(test_utils.TestServer(app)) as client:
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 200
        return dict(resp.headers), await resp.text()  # the client undoes the gzip


async def test_the_metrics_endpoint_answers_prometheus_with_gzipped_openmetrics() -> None:
    registry, _, _ = busy_registry()
    headers, text = await get_metrics(
        registry, {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
    )
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert text == render(registry, openmetrics=True).decode()
    assert [f.name for f in openmetrics_families(text)] == ["runs", "latency_seconds"]


async def test_the_metrics_endpoint_answers_curl_in_plain_text() -> None:
    registry, _, _ = busy_registry()
    headers, text = await get_metrics(registry, {"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in headers
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert text == render(registry).decode()
