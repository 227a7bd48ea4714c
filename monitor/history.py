"""A job's recent results, kept compressed.

A `ProbeResult` held as objects costs about 1.7 KB (a load probe's thirty steps are
thirty objects and sixty floats). The daemon keeps the last `server.history` results of
every job, so at 100 targets × 10 probes × 100 results that alone was ~170 MB. Here each
result is one bytes object: a fixed header (sequence number, outcome, start and
duration, enough for the status page's history strip) and the result's JSON (the one
serialiser, `result_to_dict`) compressed against a dictionary primed with the job's
first result, since one job's results differ mostly in their timings. That is ~150
bytes per result; decoding one takes a few microseconds and happens only when the API
or a detail page asks.
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

from monitor.results import OUTCOMES, Outcome, ProbeResult, result_from_dict, result_to_dict

HEADER = struct.Struct("<QBdd")  # seq, outcome index, started_at, duration_seconds
# zlib level 6 with a 4 KiB window and a small state: as small as the defaults (level 1
# is ~25 % larger) and each compressor allocates ~20 KiB instead of ~260 KiB.
LEVEL, WINDOW_BITS, MEM_LEVEL = 6, 12, 4


@dataclass(frozen=True, slots=True)
class Entry:
    """One kept result: what the history strip shows, and the rest on demand."""

    seq: int
    outcome: Outcome
    started_at: float
    duration_seconds: float
    _packed: bytes
    _zdict: bytes

    def as_dict(self) -> dict[str, Any]:
        """`result_to_dict` of the result, as it was recorded."""
        decompressor = zlib.decompressobj(WINDOW_BITS, zdict=self._zdict)
        body = decompressor.decompress(self._packed[HEADER.size :]) + decompressor.flush()
        data: dict[str, Any] = json.loads(body)
        return data

    def result(self) -> ProbeResult:
        """The result again (exact start and duration; monotonic instants are not kept)."""
        return dataclasses.replace(
            result_from_dict(self.as_dict()),
            started_at=self.started_at,
            duration_seconds=self.duration_seconds,
        )


class History:
    """The last `size` results of one job (a ring), compressed."""

    def __init__(self, size: int) -> None:
        self._packed: deque[bytes] = deque(maxlen=size)
        self._zdict = b""

    def __len__(self) -> int:
        return len(self._packed)

    def append(self, seq: int, result: ProbeResult) -> None:
        body = json.dumps(result_to_dict(result), separators=(",", ":")).encode()
        if not self._zdict:
            self._zdict = body
        compressor = zlib.compressobj(
            LEVEL, zlib.DEFLATED, WINDOW_BITS, MEM_LEVEL, zdict=self._zdict
        )
        header = HEADER.pack(
            seq, OUTCOMES.index(result.outcome), result.started_at, result.duration_seconds
        )
        self._packed.append(header + compressor.compress(body) + compressor.flush())

    def resize(self, size: int) -> None:
        """Keep the newest `size` results."""
        self._packed = deque(self._packed, maxlen=size)

    def entries(self, last: int | None = None) -> list[Entry]:
        """Oldest first; only the newest `last` when given."""
        packed = list(self._packed)
        if last is not None:
            packed = packed[max(0, len(packed) - last) :]
        return [self._entry(p) for p in packed]

    def find(self, seq: int) -> Entry | None:
        if not self._packed or not self._seq(0) <= seq <= self._seq(-1):
            return None  # sequence numbers rise within a job: not here
        for packed in self._packed:
            if HEADER.unpack_from(packed)[0] == seq:
                return self._entry(packed)
        return None

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    def _seq(self, index: int) -> int:
        seq: int = HEADER.unpack_from(self._packed[index])[0]
        return seq

    def _entry(self, packed: bytes) -> Entry:
        seq, outcome, started_at, duration = HEADER.unpack_from(packed)
        return Entry(seq, OUTCOMES[outcome], started_at, duration, packed, self._zdict)
