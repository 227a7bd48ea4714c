"""Fault dice: each named fault fires with its configured probability, from a seeded source."""

from __future__ import annotations

import random

from monitor.config import FaultsConfig, SyncFault

FAULT_NAMES = tuple(FaultsConfig.model_fields)


class FaultDice:
    """Decides whether a fault fires; probabilities can be changed at run time."""

    def __init__(self, config: FaultsConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng

    def fires(self, fault: str, operation: str | None = None) -> bool:
        probability = getattr(self.config, fault)
        if isinstance(probability, SyncFault):
            probability = getattr(probability, operation or "create")
        return bool(probability) and self._rng.random() < probability

    def jitter(self, base: float, spread: float) -> float:
        """`base` plus or minus up to `spread`, never negative."""
        return max(0.0, base + self._rng.uniform(-spread, spread)) if spread else base
