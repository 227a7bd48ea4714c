"""A job's recent results, kept compressed.

A `ProbeResult` held as objects costs about 1.7 KB (a load probe's thirty steps are
thirty objects and sixty floats). The daemon keeps the last `server.history` results of
every job, so at 100 targets × 10 probes × 100 results that alone was ~170 MB. Here a
result is a fixed header (sequence number, outcome, exact start and duration: enough
for the status page's history strip) and the rest of its JSON (the one serialiser,
`result_to_dict`) deflated against a dictionary primed with the job's first result,
since one job's results differ mostly in their timings. Every `BLOCK` results are
deflated again as one, which halves what each costs: alone, a result's own bytes object,
the stream's framing and what it cannot share with its neighbours add up to as much as
its timings. About 85 bytes per result in blocks (140 alone); decoding one takes tens
of microseconds and happens only when the API or a detail page asks.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from monitor.results import (
    OUTCOMES,
    Outcome,
    ProbeResult,
    result_from_dict,
    result_to_dict,
)

HEADER = struct.Struct("<QBdd")  # seq, outcome index, started_at, duration_seconds
IN_HEADER = ("started_at", "duration_seconds")  # exact in the header, so not in the body
BLOCK = 10  # results deflated together once there are this many
# zlib level 6 with a 4 KiB window and a small state: as small as the defaults (level 1
# is ~25 % larger) and each compressor allocates ~20 KiB instead of ~260 KiB. Raw
# deflate: the stream's own header and checksum would be a tenth of a result.
LEVEL, WINDOW_BITS, MEM_LEVEL = 6, -12, 4
LONE = -1  # the index of a result deflated alone


class _Bodies:
    """The bodies in one packed block (or lone result), inflated once for every entry
    read from it in one go."""

    __slots__ = ("_bodies", "_packed", "_zdict")

    def __init__(self, packed: bytes, zdict: bytes) -> None:
        self._packed, self._zdict = packed, zdict
        self._bodies: list[bytes] | None = None

    def body(self, index: int) -> bytes:
        if self._bodies is None:
            headers = HEADER.size * (1 if index == LONE else BLOCK)
            self._bodies = _inflate(self._packed[headers:], self._zdict).split(b"\n")
        return self._bodies[max(index, 0)]


@dataclass(frozen=True, slots=True)
class Entry:
    """One kept result: what the history strip shows, and the rest on demand."""

    seq: int
    outcome: Outcome
    started_at: float
    duration_seconds: float
    _bodies: _Bodies  # its block's, or its own when deflated alone
    _index: int  # its place in the block; LONE when alone

    def as_dict(self) -> dict[str, Any]:
        """`result_to_dict` of the result, as it was recorded."""
        rest: dict[str, Any] = json.loads(self._bodies.body(self._index))
        # the header's fields as the serialiser writes them, in the serialiser's key order
        shape = dataclasses.replace(
            _SHAPE, started_at=self.started_at, duration_seconds=self.duration_seconds
        )
        return {key: rest.get(key, value) for key, value in result_to_dict(shape).items()}

    def result(self) -> ProbeResult:
        """The result again (exact start and duration; monotonic instants are not kept)."""
        return dataclasses.replace(
            result_from_dict(self.as_dict()),
            started_at=self.started_at,
            duration_seconds=self.duration_seconds,
        )


# a result whose serialised form gives the key order and the header fields' formats
_SHAPE = ProbeResult("", "", "pass", 0.0, 0.0)


class History:
    """The last `size` results of one job (a ring), compressed."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept = 0  # the newest this many of the results held are kept
        self._blocks: deque[bytes] = deque()  # BLOCK headers, then their bodies deflated
        self._open: list[bytes] = []  # the newest, fewer than BLOCK: header + body deflated
        self._zdict = b""

    def __len__(self) -> int:
        return self._kept

    def append(self, seq: int, result: ProbeResult) -> None:
        data = result_to_dict(result)
        for key in IN_HEADER:
            del data[key]
        body = json.dumps(data, separators=(",", ":")).encode()  # JSON has no raw newline
        if not self._zdict:
            self._zdict = body
        header = HEADER.pack(
            seq, OUTCOMES.index(result.outcome), result.started_at, result.duration_seconds
        )
        self._open.append(header + _deflate(body, self._zdict))
        if len(self._open) == BLOCK:
            bodies = b"\n".join(_inflate(p[HEADER.size :], self._zdict) for p in self._open)
            headers = b"".join(p[: HEADER.size] for p in self._open)
            self._blocks.append(headers + _deflate(bodies, self._zdict))
            self._open = []
        self._kept = min(self._size, self._kept + 1)
        self._trim()

    def resize(self, size: int) -> None:
        """Keep the newest `size` results."""
        self._size = size
        self._kept = min(size, self._kept)
        self._trim()

    def entries(self, last: int | None = None) -> list[Entry]:
        """Oldest first; only the newest `last` when given. Entries from one block share
        its inflated bodies: reading them all inflates each block once."""
        count = len(self) if last is None else min(len(self), last)
        shared: dict[int, _Bodies] = {}
        return [self._entry(i, shared) for i in range(len(self) - count, len(self))]

    def find(self, seq: int) -> Entry | None:
        if not self or not self._seq(0) <= seq <= self._seq(len(self) - 1):
            return None  # sequence numbers rise within a job: not here
        for entry in self:
            if entry.seq == seq:
                return entry
        return None

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    def _held(self) -> int:
        return len(self._blocks) * BLOCK + len(self._open)

    def _trim(self) -> None:
        """Drop whole blocks while the rest still holds every kept result."""
        while self._blocks and self._held() - BLOCK >= self._kept:
            self._blocks.popleft()

    def _locate(self, position: int) -> tuple[bytes, int, int]:
        """The packed bytes, index and header offset of the kept result at `position`."""
        at = self._held() - len(self) + position
        sealed = len(self._blocks) * BLOCK
        if at < sealed:
            index = at % BLOCK
            return self._blocks[at // BLOCK], index, index * HEADER.size
        return self._open[at - sealed], LONE, 0

    def _seq(self, position: int) -> int:
        packed, _, offset = self._locate(position)
        seq: int = HEADER.unpack_from(packed, offset)[0]
        return seq

    def _entry(self, position: int, shared: dict[int, _Bodies]) -> Entry:
        """The kept result at `position`; `shared` holds the bodies of blocks read so far."""
        packed, index, offset = self._locate(position)
        seq, outcome, started_at, duration = HEADER.unpack_from(packed, offset)
        if (bodies := shared.get(id(packed))) is None:
            bodies = shared[id(packed)] = _Bodies(packed, self._zdict)
        return Entry(seq, OUTCOMES[outcome], started_at, duration, bodies, index)


def _deflate(data: bytes, zdict: bytes) -> bytes:
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, WINDOW_BITS, MEM_LEVEL, zdict=zdict)
    return compressor.compress(data) + compressor.flush()


def _inflate(data: bytes, zdict: bytes) -> bytes:
    decompressor = zlib.decompressobj(WINDOW_BITS, zdict=zdict)
    return decompressor.decompress(data) + decompressor.flush()
