"""What `/api/status` and the status page show: per target × probe, last and recent results."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator, Mapping
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
    head, kept = _job(recorder, scheduler, target, probe, history)
    return {**head, "history": [_full(e) if detail else _brief(e) for e in kept]}


def job_status_json(
    recorder: Recorder, scheduler: Scheduled, target: str, probe: str, history: int | None
) -> Iterator[str]:
    """`job_status` in full as JSON text, in pieces: each recent result is decoded only
    when its piece is asked for."""
    head, kept = _job(recorder, scheduler, target, probe, history)
    return json_object(head, "history", ([json.dumps(_full(e))] for e in kept))


def json_object(head: Mapping[str, Any], key: str, items: Iterable[Iterable[str]]) -> Iterator[str]:
    """The JSON text of `{**head, key: [...]}` in pieces, each item of the list given as
    pieces of its own JSON text: a large document made and sent a little at a time."""
    text = json.dumps(head)
    yield (text[:-1] + ", " if head else "{") + json.dumps(key) + ": ["
    for index, item in enumerate(items):
        if index:
            yield ", "
        yield from item
    yield "]}"


def _job(
    recorder: Recorder, scheduler: Scheduled, target: str, probe: str, history: int | None
) -> tuple[dict[str, Any], list[Entry]]:
    """A job's status but its recent results, and those results as kept."""
    kept = recorder.history(target, probe, history)
    last = recorder.last_run(target, probe)
    latest = kept[-1:] or recorder.history(target, probe, 1)  # ?history=0 keeps none
    head = {
        "target": target,
        "probe": probe,
        "interval_seconds": last.interval if last else None,
        "last_run_timestamp": last.last_run if last else None,
        "next_run_timestamp": scheduler.next_run(target, probe),
        "last": _full(latest[-1]) if latest else None,
    }
    return head, kept


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
