"""Sharding: `--shard i/n` runs only the targets whose stable hash maps to i.

The hash is SHA-256 of the target name (never Python's per-process `hash()`), so n
replicas (a StatefulSet, the shard from the pod ordinal) split hundreds of targets
with no coordination, like Prometheus' hashmod.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from monitor.config import Config

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (0-based) of `count`."""

    index: int
    count: int

    def owns(self, target: str) -> bool:
        return shard_of(target, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(name: str, count: int) -> int:
    """The shard a target name belongs to, the same in every process and on every machine."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str) -> Shard:
    """`2/4` → Shard(2, 4); the index is 0-based (a StatefulSet pod's ordinal)."""
    match = _SHARD.match(text)
    if match is None:
        raise ValueError(f"shard {text!r}: expected INDEX/COUNT, e.g. 0/4")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        raise ValueError(f"shard {text!r}: the index must be from 0 to COUNT-1")
    return Shard(index, count)


def select(config: Config, shard: Shard | None) -> Config:
    """The config with only this shard's targets (all of them when unsharded)."""
    if shard is None:
        return config
    return config.model_copy(update={"targets": [t for t in config.targets if shard.owns(t.name)]})
