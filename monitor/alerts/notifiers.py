"""Notifiers: Alertmanager, webhook (Alertmanager's webhook payload, signed), and the log.

HTTP notifiers queue what they send in a bounded queue worked by one task, with a
timeout on every request and retries with backoff: a receiver that is down or hangs
never blocks probes, and memory never grows without bound (what does not fit is
dropped and counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

import aiohttp

from monitor.alerts.engine import Alert, Notification
from monitor.metric_types import Counter
from monitor.results import utc_iso

log = logging.getLogger("monitor.alerts")

ATTEMPTS = 4
BACKOFF = 0.5  # seconds before the first retry; doubles each time
RESULTS = ("sent", "failed", "dropped")
DRAIN = 2.0  # seconds a closing notifier spends delivering what is queued

RETRIED_4XX = (408, 429)  # a timeout or a rate limit: worth another try


def _worth_retrying(status: int) -> bool:
    """A 4xx answer says the request itself is wrong (bad URL, token, payload): sending it
    again cannot help, except after a timeout or a rate limit."""
    return not 400 <= status < 500 or status in RETRIED_4XX


class Failure(NamedTuple):
    problem: str
    retry: bool


ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert in webhooks


def iso(ts: float) -> str:
    """`utc_iso` written as Alertmanager writes times (Go's RFC3339Nano): trailing zeros
    of the fraction are dropped, and the point with them when none is left
    (`12:00:00.39Z`, `12:00:00Z`), so a receiver that compares our webhook payloads with
    Alertmanager's as strings sees the same text for the same instant."""
    return utc_iso(ts)[:-1].rstrip("0").rstrip(".") + "Z"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class LogNotifier:
    """Always on: one line per state change."""

    name = "log"

    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    def submit(self, notes: list[Notification]) -> None:
        for note in notes:
            a = note.alert
            muted = " (silenced)" if note.silenced else ""
            level = logging.WARNING if note.status == "firing" else logging.INFO
            log.log(
                level,
                "alert %s %s%s %s: %s",
                a.labels.get("alertname"),
                note.status,
                muted,
                _label_text(a.labels),
                a.annotations.get("description", ""),
            )
            self._counter.labels(self.name, "sent").inc()

    async def close(self, drain: float = DRAIN) -> None:
        return None


def _label_text(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname") + "}"


class QueuedPoster:
    """POSTs JSON bodies from a bounded queue, with retries; counts sent/failed/dropped."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float,
        queue_size: int,
        counter: Counter,
        headers: Mapping[str, str] | None = None,
        sign_with: str | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self._counter = counter
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._secret = sign_with
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        for result in RESULTS:
            counter.labels(name, result)

    def post(self, payload: Any) -> None:
        if self._worker is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._worker = asyncio.get_running_loop().create_task(self._work())
        try:
            self._queue.put_nowait(json.dumps(payload).encode())
        except asyncio.QueueFull:
            self._counter.labels(self.name, "dropped").inc()
            log.warning("%s queue full: dropped a notification for %s", self.name, self.url)

    async def _work(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                ok = await self._deliver(body)
                self._counter.labels(self.name, "sent" if ok else "failed").inc()
            finally:
                self._queue.task_done()

    async def _deliver(self, body: bytes) -> bool:
        for attempt in range(ATTEMPTS):
            failure = await self._try(body)
            if failure is None:
                return True
            final = attempt == ATTEMPTS - 1 or not failure.retry
            log.warning(
                "%s: POST %s failed (attempt %d of %d%s): %s",
                self.name,
                self.url,
                attempt + 1,
                ATTEMPTS,
                ", not retried" if final and attempt < ATTEMPTS - 1 else "",
                failure.problem,
            )
            if final:
                return False
            await asyncio.sleep(BACKOFF * 2**attempt)
        return False

    async def _try(self, body: bytes) -> Failure | None:
        assert self._session is not None
        headers = dict(self._headers)
        if self._secret:
            now = int(dt.datetime.now(tz=dt.UTC).timestamp())
            headers["X-Consistency-Signature"] = signature(self._secret, now, body)
        try:
            async with self._session.post(self.url, data=body, headers=headers) as resp:
                if resp.status < 300:
                    return None
                return Failure(f"{resp.status} {resp.reason}", _worth_retrying(resp.status))
        except TimeoutError:
            return Failure(f"no answer within {self._timeout.total:g} s", retry=True)
        except aiohttp.ClientError as exc:
            return Failure(str(exc) or type(exc).__name__, retry=True)

    async def close(self, drain: float = DRAIN) -> None:
        """Deliver what is queued (a resolve must not be lost to a reload or a stop) for at
        most `drain` seconds; what is still queued then is counted dropped."""
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain)
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            left = self._queue.qsize()
            if left:
                self._counter.labels(self.name, "dropped").inc(left)
                log.warning("%s: %d notification(s) not delivered at close", self.name, left)
        if self._session is not None:
            await self._session.close()


def am_alert(
    alert: Alert, *, status: str, now: float, ends_in: float, external_url: str
) -> dict[str, Any]:
    """One alert in Alertmanager's API shape."""
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": iso(alert.fired_at or alert.active_since),
        "endsAt": iso(now + ends_in if status == "firing" else now),
        "generatorURL": alert.annotations.get("link") or f"{external_url.rstrip('/')}/",
    }


class AlertmanagerNotifier:
    """POST /api/v2/alerts: every change at once, and all firing alerts every resend interval."""

    name = "alertmanager"

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        queue_size: int,
        counter: Counter,
        resend_interval: float,
        external_url: str,
    ) -> None:
        endpoint = url.rstrip("/") + "/api/v2/alerts"
        self._poster = QueuedPoster(
            self.name, endpoint, timeout=timeout, queue_size=queue_size, counter=counter
        )
        self._ends_in = 4 * resend_interval  # as Prometheus does
        self._external_url = external_url

    def submit(self, notes: list[Notification]) -> None:
        if notes:
            self._post([(n.alert, n.status, n.at) for n in notes])

    def resend(self, firing: list[Alert], now: float) -> None:
        if firing:
            self._post([(a, "firing", now) for a in firing])

    def _post(self, items: list[tuple[Alert, str, float]]) -> None:
        self._poster.post(
            [
                am_alert(a, status=s, now=t, ends_in=self._ends_in, external_url=self._external_url)
                for a, s, t in items
            ]
        )

    async def close(self, drain: float = DRAIN) -> None:
        await self._poster.close(drain)


class WebhookNotifier:
    """Alertmanager's webhook payload (version 4), so existing receivers work.

    Each payload carries one alert, so its group is the alert itself: `groupLabels` are
    all its labels and `groupKey` is unique to it (receivers that deduplicate by group
    key, like PagerDuty's, keep two kinds on one probe apart). As in Alertmanager, a
    firing alert's `endsAt` is the zero time.
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        queue_size: int,
        counter: Counter,
        bearer_token: str | None,
        secret: str | None,
        external_url: str,
    ) -> None:
        headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        self._poster = QueuedPoster(
            self.name,
            url,
            timeout=timeout,
            queue_size=queue_size,
            counter=counter,
            headers=headers,
            sign_with=secret,
        )
        self._external_url = external_url

    def submit(self, notes: list[Notification]) -> None:
        for note in notes:
            if not note.silenced:
                self._poster.post(self.payload(note))

    def payload(self, note: Notification) -> dict[str, Any]:
        alert = am_alert(
            note.alert, status=note.status, now=note.at, ends_in=0, external_url=self._external_url
        )
        if note.status == "firing":
            alert["endsAt"] = ZERO_TIME
        labels = dict(note.alert.labels)
        return {
            "version": "4",
            "groupKey": group_key(labels),
            "truncatedAlerts": 0,
            "status": note.status,
            "receiver": "consistency-monitor",
            "groupLabels": labels,
            "commonLabels": labels,
            "commonAnnotations": dict(note.alert.annotations),
            "externalURL": self._external_url,
            "alerts": [{"status": note.status, **alert, "fingerprint": _fingerprint(labels)}],
        }

    async def close(self, drain: float = DRAIN) -> None:
        await self._poster.close(drain)


def group_key(labels: Mapping[str, str]) -> str:
    """Alertmanager's form: `{}:{alertname="X", target="y"}`."""
    pairs = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return "{}:{" + pairs + "}"


def _fingerprint(labels: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
