"""A crash-safe ledger of the synthetic users the monitor created and has not yet removed.

Each create is written (and committed) before the call is made, and the entry is
removed once the user is deleted, so after a crash the janitor knows what to clean.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    entry INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    email TEXT NOT NULL,
    user_id TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_target ON ledger (target, user_id);
"""


@dataclass(frozen=True)
class Entry:
    entry: int
    target: str
    email: str
    user_id: str | None
    created_at: float


class Ledger:
    """SQLite-backed; `Ledger.disabled()` keeps nothing (for the in-process simulator)."""

    def __init__(self, path: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    @classmethod
    def disabled(cls) -> Ledger:
        return cls(None)

    def add(self, target: str, email: str) -> int:
        if self._db is None:
            return 0
        cursor = self._db.execute(
            "INSERT INTO ledger (target, email, created_at) VALUES (?, ?, ?)",
            (target, email, time.time()),
        )
        return int(cursor.lastrowid or 0)

    def set_id(self, entry: int, user_id: str) -> None:
        if self._db is not None:
            self._db.execute("UPDATE ledger SET user_id = ? WHERE entry = ?", (user_id, entry))

    def remove(self, target: str, user_id: str) -> None:
        if self._db is not None:
            self._db.execute(
                "DELETE FROM ledger WHERE target = ? AND user_id = ?", (target, user_id)
            )

    def forget(self, entry: int) -> None:
        if self._db is not None:
            self._db.execute("DELETE FROM ledger WHERE entry = ?", (entry,))

    def entries(self, target: str) -> list[Entry]:
        if self._db is None:
            return []
        rows = self._db.execute(
            "SELECT entry, target, email, user_id, created_at FROM ledger WHERE target = ?",
            (target,),
        )
        return [Entry(*row) for row in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
