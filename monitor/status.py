"""What `/api/status` and the status page show: per target × probe, last and recent results."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from monitor.alerts.engine import Alert
from monitor.history import Entry
from monitor.recorder import Recorder
from monitor.results import utc_iso
from monitor.targets.base import Target
from monitor.targets.simulator import tagged_users_in_auth

ESTABLISHED = "01"  # TCP state column of /proc/net/tcp


class Scheduled(Protocol):
    def next_run(self, target: str, probe: str) -> float | None: ...


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="milliseconds")


def job_status(
    recorder: Recorder,
    scheduler: Scheduled,
    target: str,
    probe: str,
    history: int | None,
    *,
    detail: bool = True,
) -> dict[str, Any]:
    """One target × probe: its interval, last and next run, last result, recent results.

    Without `detail`, recent results are only what a history strip shows (seq, outcome,
    start), read without decompressing them.
    """
    kept = recorder.history(target, probe, history)
    last = recorder.last_run(target, probe)
    latest = kept[-1:] or recorder.history(target, probe, 1)  # ?history=0 keeps none
    return {
        "target": target,
        "probe": probe,
        "interval_seconds": last.interval if last else None,
        "last_run_timestamp": last.last_run if last else None,
        "next_run_timestamp": scheduler.next_run(target, probe),
        "last": _full(latest[-1]) if latest else None,
        "history": [_full(e) if detail else _brief(e) for e in kept],
    }


def _full(entry: Entry) -> dict[str, Any]:
    return {"seq": entry.seq, **entry.as_dict()}


def _brief(entry: Entry) -> dict[str, Any]:
    return {"seq": entry.seq, "outcome": entry.outcome, "started_at": utc_iso(entry.started_at)}


def runtime(targets: Iterable[Target] = ()) -> dict[str, Any]:
    """Leak indicators: tasks, descriptors and connections alive now; tagged users left."""
    sockets = socket_inodes()
    return {
        "asyncio_tasks": len(asyncio.all_tasks()),
        "open_fds": len(fd_targets()),
        "open_sockets": len(sockets),
        "tcp_connections": tcp_established(sockets),
        "synthetic_users_left": synthetic_users_left(targets),
    }


def fd_targets() -> list[str]:
    """What each of this process's open descriptors points at (empty off Linux)."""
    found = []
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    for name in names:
        try:
            found.append(os.readlink(f"/proc/self/fd/{name}"))
        except OSError:  # the descriptor listing the directory is already closed
            continue
    return found


def socket_inodes() -> set[str]:
    return {t[len("socket:[") : -1] for t in fd_targets() if t.startswith("socket:[")}


def tcp_established(inodes: set[str]) -> int:
    """This process's established TCP connections (IPv4 and IPv6), inbound and outbound."""
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            count += len(cols) > 9 and cols[3] == ESTABLISHED and cols[9] in inodes
    return count


def synthetic_users_left(targets: Iterable[Target]) -> dict[str, int]:
    """Per simulator target, tagged users in its Auth now (runs in flight hold some)."""
    counts = {target.name: tagged_users_in_auth(target) for target in targets}
    return {name: n for name, n in counts.items() if n is not None}


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "state": alert.state,
        "active_since": iso(alert.active_since),
        "fired_at": iso(alert.fired_at),
    }
