"""What `/api/status` and the status page show: per target × probe, last and recent results."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Protocol

from monitor.alerts.engine import Alert
from monitor.recorder import Recorder
from monitor.results import result_to_dict


class Scheduled(Protocol):
    def next_run(self, target: str, probe: str) -> float | None: ...


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="milliseconds")


def job_status(
    recorder: Recorder, scheduler: Scheduled, target: str, probe: str, history: int | None
) -> dict[str, Any]:
    """One target × probe: its interval, last and next run, last result, recent results."""
    recorded = recorder.history(target, probe)
    shown = recorded if history is None else recorded[max(0, len(recorded) - history) :]
    last = recorder.last_run(target, probe)
    entries = [{"seq": r.seq, **result_to_dict(r.result)} for r in shown]
    latest = {"seq": recorded[-1].seq, **result_to_dict(recorded[-1].result)} if recorded else None
    return {
        "target": target,
        "probe": probe,
        "interval_seconds": last.interval if last else None,
        "last_run_timestamp": last.last_run if last else None,
        "next_run_timestamp": scheduler.next_run(target, probe),
        "last": latest,
        "history": entries,
    }


def runtime() -> dict[str, int]:
    """Leak indicators: asyncio tasks alive now."""
    return {"asyncio_tasks": len(asyncio.all_tasks())}


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "state": alert.state,
        "active_since": iso(alert.active_since),
        "fired_at": iso(alert.fired_at),
    }
