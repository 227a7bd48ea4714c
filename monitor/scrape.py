"""Answering a scrape: format and encoding as the scraper asks, the body rendered on the
event loop in pieces, the loop given a turn every half millisecond or so. The status API
and page stream their (much larger) bodies the same way: `paced`.

Rendering in a thread instead would not spare the loop: the thread holds the GIL.
Gzip (level 1) costs about a third of the rendering time and shrinks the body twentyfold
(3 MB → 155 kB at 100 targets; bench/render.py); level 6 costs three times as much for
a fifth less, so level 1.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from monitor.exposition import Registry

BUDGET = 0.0005  # seconds of rendering between two turns the event loop gets
GZIP_LEVEL = 1


@dataclass(frozen=True)
class Answer:
    """How to answer one scrape."""

    openmetrics: bool
    gzip_level: int | None
    headers: dict[str, str] = field(default_factory=dict)


def negotiate(headers: Mapping[str, str], *, gzip_level: int = GZIP_LEVEL) -> Answer:
    """OpenMetrics when prometheus_client's `choose_encoder` would pick it (with its
    content type); gzip when the scraper accepts it (Prometheus does)."""
    encoder, content_type = choose_encoder(headers.get("Accept", ""))
    openmetrics = getattr(encoder, "func", encoder) is openmetrics_latest
    level, encoding = compression(headers, gzip_level=gzip_level)
    return Answer(openmetrics, level, {"Content-Type": content_type, **encoding})


def compression(
    headers: Mapping[str, str], *, gzip_level: int = GZIP_LEVEL
) -> tuple[int | None, dict[str, str]]:
    """gzip when the client accepts it: the level (None: no compression) and the
    response headers that say how the body is encoded."""
    if gzip_accepted(headers.get("Accept-Encoding", "")):
        return gzip_level, {"Vary": "Accept-Encoding", "Content-Encoding": "gzip"}
    return None, {"Vary": "Accept-Encoding"}


def gzip_accepted(accept_encoding: str) -> bool:
    for coding in accept_encoding.split(","):
        name, _, params = coding.partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def render(registry: Registry, *, openmetrics: bool = False) -> bytes:
    """The whole body in one go (docs, tests, benchmarks; the server streams chunks)."""
    return "".join(registry.pieces(openmetrics=openmetrics)).encode()


class _Body:
    """Encoded pieces, gzip-compressed as they come when asked, taken in chunks."""

    def __init__(self, gzip_level: int | None) -> None:
        self._parts: list[bytes] = []
        self._gzip = None if gzip_level is None else zlib.compressobj(gzip_level, wbits=31)

    def add(self, piece: str) -> None:
        data = piece.encode()
        self._parts.append(self._gzip.compress(data) if self._gzip else data)

    def take(self, *, last: bool = False) -> bytes:
        if last and self._gzip:
            self._parts.append(self._gzip.flush())
        chunk, self._parts = b"".join(self._parts), []
        return chunk


def chunks(
    registry: Registry,
    *,
    openmetrics: bool = False,
    gzip_level: int | None = None,
    budget: float = BUDGET,
) -> AsyncIterator[bytes]:
    """The exposition in chunks of about `budget` seconds of rendering each."""
    return paced(registry.pieces(openmetrics=openmetrics), gzip_level=gzip_level, budget=budget)


async def paced(
    pieces: Iterable[str], *, gzip_level: int | None = None, budget: float = BUDGET
) -> AsyncIterator[bytes]:
    """A body in chunks of about `budget` seconds of work each (making the pieces is part
    of it); the loop gets a turn after each, so probes and their latency timers are not
    held up while a large body is made."""
    body = _Body(gzip_level)
    resume_at = time.perf_counter() + budget
    for piece in pieces:
        body.add(piece)
        if time.perf_counter() >= resume_at:
            if chunk := body.take():
                yield chunk
            await asyncio.sleep(0)
            resume_at = time.perf_counter() + budget
    yield body.take(last=True)


async def render_async(
    registry: Registry, *, openmetrics: bool = False, gzip_level: int | None = None
) -> bytes:
    """The whole body, rendered as the server does."""
    parts = [c async for c in chunks(registry, openmetrics=openmetrics, gzip_level=gzip_level)]
    return b"".join(parts)
