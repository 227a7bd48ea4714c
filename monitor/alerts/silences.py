"""Silences from the config and from the API; API ones persist in the state dir."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monitor.alerts.config import SilenceConfig
from monitor.alerts.engine import Silence

log = logging.getLogger("monitor.alerts")

FILE = "silences.json"


class SilenceStore:
    """Config silences (replaced on reload) plus API silences (kept across restarts)."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / FILE
        self._from_config: list[Silence] = []
        self._added: dict[str, Silence] = self._load()

    def configure(self, silences: Sequence[SilenceConfig]) -> None:
        self._from_config = [Silence.from_config(i, s) for i, s in enumerate(silences)]

    def active(self, now: float) -> list[Silence]:
        return [s for s in self.all() if s.ends_at is None or s.ends_at > now]

    def all(self) -> list[Silence]:
        return [*self._from_config, *self._added.values()]

    def add(self, matchers: Mapping[str, str], ends_at: float | None, comment: str) -> Silence:
        silence = Silence(secrets.token_hex(8), dict(matchers), ends_at, comment)
        self._added[silence.id] = silence
        self._save()
        return silence

    def remove(self, silence_id: str) -> bool:
        if self._added.pop(silence_id, None) is None:
            return False
        self._save()
        return True

    def prune(self, now: float) -> None:
        expired = [k for k, s in self._added.items() if s.ends_at is not None and s.ends_at <= now]
        for key in expired:
            del self._added[key]
        if expired:
            self._save()

    def _load(self) -> dict[str, Silence]:
        try:
            data = json.loads(self._path.read_text())
            return {d["id"]: silence_from_dict(d) for d in data}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("cannot read %s, starting without API silences: %r", self._path, exc)
            return {}

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps([silence_to_dict(s) for s in self._added.values()], indent=1))
        os.replace(tmp, self._path)


def silence_to_dict(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": dict(silence.matchers),
        "ends_at": silence.ends_at,
        "comment": silence.comment,
    }


def silence_from_dict(data: Mapping[str, Any]) -> Silence:
    """The inverse of `silence_to_dict`; raises on a malformed entry."""
    matchers = {str(k): str(v) for k, v in data["matchers"].items()}
    ends_at = data.get("ends_at")
    return Silence(
        str(data["id"]),
        matchers,
        float(ends_at) if ends_at is not None else None,
        str(data.get("comment", "")),
    )
