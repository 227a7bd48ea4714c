"""Built-in alerting end to end: a real Alertmanager, webhooks, silences and alert metrics.

Everything runs on 127.0.0.1 with free ports: an in-process daemon on a fast simulator,
the Debian `prometheus-alertmanager`, and small aiohttp receivers that record what
they get. Nothing sleeps to wait: every wait is a condition with a deadline.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from support.alertmanager import running_alertmanager, webhook_config
from support.components import require_binary
from support.monitor_daemon import Scrape, monitor_config, running_daemon, sim_target, write_config
from support.receiver import Receiver
from support.waiting import eventually, polled

from monitor.alerts import notifiers
from monitor.alerts.engine import Alert, Notification
from monitor.alerts.notifiers import WebhookNotifier, signature
from monitor.daemon import Daemon
from monitor.exposition import Registry
from monitor.metric_types import Counter
from monitor.sim.world import World

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerting.md"
CASCADE = {
    "alertname": "ConsistencyInconsistency",
    "kind": "cascade",
    "severity": "critical",
    "target": "sim",
    "probe": "delete_cascade",
}
ONLY_INCONSISTENCY = {
    rule: {"enabled": False}
    for rule in ("sync_latency", "success_ratio", "probe_errors", "stale_probe")
}
SECRET = "hook-signing-key"
ADMIN_TOKEN = "test-admin-token"
FAST_ALERTS = {"evaluation_interval": "1s", "resend_interval": "2s"}
Verify = Callable[..., bool]
T = TypeVar("T")


@pytest.fixture
def alertmanager_binary() -> str:
    return require_binary("prometheus-alertmanager", package="prometheus-alertmanager")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.close()


@pytest.fixture
async def am_receiver() -> AsyncIterator[Receiver]:
    """Alertmanager's own webhook receiver."""
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.close()


@pytest.fixture
def verify_signature() -> Verify:
    """The verification snippet of docs/alerting.md, executed as written there."""
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index("<!-- snippet: verify-signature") :]
    found = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert found, "docs/alerting.md: no python block after the verify-signature marker"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(DOC), "exec"), namespace)
    verify: Verify = namespace["verify_signature"]
    return verify


# -- helpers ------------------------------------------------------------------------------


def fast_config(
    *,
    targets: Mapping[str, Mapping[str, float]] | None = None,
    alerts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fast simulator targets (name → faults) running delete_cascade, with an admin token."""
    return monitor_config(
        *(
            sim_target(name, faults=faults, probes=["delete_cascade"], seed=1)
            for name, faults in (targets or {"sim": {}}).items()
        ),
        server={"admin_token": ADMIN_TOKEN},
        alerts={**FAST_ALERTS, **(alerts or {})},
    )


async def scrape(daemon: Daemon) -> Scrape:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{daemon.address}/metrics") as resp,
    ):
        assert resp.status == 200
        return Scrape(await resp.text())


def notifications(scraped: Scrape, result: str) -> float:
    """`consistency_notifications_total` of the webhook notifier for `result`."""
    return (
        scraped.value("consistency_notifications_total", notifier="webhook", result=result) or 0.0
    )


def labelled(labels: Mapping[str, str]) -> Callable[[Mapping[str, Any]], bool]:
    """Matches an alert (Alertmanager's or a webhook's) carrying all of `labels`."""
    return lambda alert: labels.items() <= alert["labels"].items()


def received(hook: Receiver, labels: Mapping[str, str]) -> list[tuple[float, str]]:
    """(arrival, status) of every alert with these labels that `hook` accepted."""
    return [(at, status) for at, status, alert in hook.alerts() if labelled(labels)(alert)]


def statuses(hook: Receiver, labels: Mapping[str, str]) -> list[str]:
    return [status for _, status in received(hook, labels)]


def world_of(daemon: Daemon, target: str) -> World:
    live = daemon.scheduler.target(target)
    assert live is not None, f"no live target {target}"
    world = live.state["world"]
    assert isinstance(world, World)
    return world


def inject(daemon: Daemon, target: str, **faults: float) -> None:
    """Change the fault probabilities of a running target's simulator."""
    dice = world_of(daemon, target).dice
    dice.config = dice.config.model_copy(update=faults)


async def api(
    daemon: Daemon, method: str, path: str, *, token: str | None = "default", **kw: Any
) -> tuple[int, Any]:
    """One request to the daemon's API: (status, JSON body or None)."""
    given = ADMIN_TOKEN if token == "default" else token
    headers = {"Authorization": f"Bearer {given}"} if given is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://{daemon.address}{path}", headers=headers, **kw) as resp,
    ):
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body


def firing(daemon: Daemon, labels: Mapping[str, str]) -> list[Alert]:
    """The daemon's pending and firing alerts with these labels."""
    return [a for a in daemon.alerts.alerts() if labels.items() <= a.labels.items()]


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and types, label maps as one type."""
    if isinstance(value, dict):
        if value and all(isinstance(v, str) for v in value.values()):
            return "map[str]str"
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


# -- end to end with a real Alertmanager ---------------------------------------------------


async def test_cascade_alert_reaches_alertmanager_and_a_reload_resolves_it(
    tmp_path: Path, alertmanager_binary: str, am_receiver: Receiver
) -> None:
    am_config = webhook_config(am_receiver.url)
    async with running_alertmanager(alertmanager_binary, am_config, tmp_path / "am") as am:
        alerts = {"alertmanagers": [{"url": am.url}]}
        path = tmp_path / "monitor.yaml"
        write_config(path, fast_config(targets={"sim": {"skip_cascade": 1}}, alerts=alerts))
        async with running_daemon(path, tmp_path / "state") as daemon:
            held = await eventually(
                am.alerts,
                lambda found: any(map(labelled(CASCADE), found)),
                within=20,
                what="the cascade alert in Alertmanager's /api/v2/alerts",
            )
            cascade = next(a for a in held if labelled(CASCADE)(a))
            assert cascade["labels"] == CASCADE
            assert cascade["status"]["state"] == "active"
            await eventually(
                polled(lambda: statuses(am_receiver, CASCADE)),
                lambda seen: "firing" in seen,
                within=20,
                what="Alertmanager's webhook notification of the firing alert",
            )

            write_config(path, fast_config(targets={"sim": {}}, alerts=alerts))
            assert (await daemon.reload()).ok
            await eventually(
                polled(lambda: statuses(am_receiver, CASCADE)),
                lambda seen: "resolved" in seen,
                within=20,
                what="Alertmanager's webhook notification of the resolved alert",
            )
            await eventually(
                am.alerts,
                lambda found: not any(map(labelled(CASCADE), found)),
                within=10,
                what="the cascade alert gone from Alertmanager's active alerts",
            )
    seen = statuses(am_receiver, CASCADE)
    assert seen[0] == "firing" and seen[-1] == "resolved", seen


async def test_webhook_payload_has_the_shape_alertmanager_sends(
    tmp_path: Path, alertmanager_binary: str, am_receiver: Receiver, receiver: Receiver
) -> None:
    am_config = webhook_config(am_receiver.url)
    async with running_alertmanager(alertmanager_binary, am_config, tmp_path / "am") as am:
        alerts = {"alertmanagers": [{"url": am.url}], "webhooks": [{"url": receiver.url}]}
        path = write_config(
            tmp_path / "monitor.yaml",
            fast_config(targets={"sim": {"skip_cascade": 1}}, alerts=alerts),
        )
        async with running_daemon(path, tmp_path / "state"):
            for hook in (am_receiver, receiver):
                await eventually(
                    polled(lambda hook=hook: statuses(hook, CASCADE)),
                    lambda seen: "firing" in seen,
                    within=20,
                    what="a firing cascade notification",
                )
    theirs = next(d.json() for d in am_receiver.accepted())
    ours = next(d.json() for d in receiver.accepted())
    assert shape(ours) == shape(theirs)
    assert ours["version"] == theirs["version"] == "4"
    assert ours["status"] == theirs["status"] == "firing"
    assert ours["commonLabels"] == theirs["commonLabels"] == CASCADE
    assert ours["alerts"][0]["endsAt"] == theirs["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert ours["alerts"][0]["startsAt"] == theirs["alerts"][0]["startsAt"]


# -- the webhook notifier on its own --------------------------------------------------------


def a_notification(status: str = "firing") -> Notification:
    now = time.time()
    alert = Alert(
        dict(CASCADE),
        {"summary": "cascade found", "description": "2 of 2 dependents survived"},
        "firing",
        now,
        now,
    )
    return Notification(status, alert, now, False)  # type: ignore[arg-type]


def a_webhook(url: str, registry: Registry, **options: Any) -> WebhookNotifier:
    counter = Counter(
        "consistency_notifications", "test", ("notifier", "result"), registry=registry
    )
    settings = {"timeout": 2.0, "queue_size": 10, "bearer_token": None, "secret": None}
    return WebhookNotifier(
        url, counter=counter, external_url="http://monitor.test:9465", **(settings | options)
    )


def counted(registry: Registry, result: str, notifier: str = "webhook") -> float:
    labels = {"notifier": notifier, "result": result}
    return registry.get_sample_value("consistency_notifications_total", labels) or 0.0


async def delivered(hook: Receiver, registry: Registry) -> None:
    await eventually(
        polled(lambda: counted(registry, "sent") + counted(registry, "failed")),
        lambda n: n >= 1,
        within=15,
        what="the webhook notifier to finish its delivery",
    )


async def test_webhook_signature_verifies_with_the_documented_snippet(
    receiver: Receiver, verify_signature: Verify
) -> None:
    registry = Registry()
    hook = a_webhook(receiver.url, registry, secret=SECRET)
    try:
        hook.submit([a_notification()])
        await delivered(receiver, registry)
    finally:
        await hook.close()
    (delivery,) = receiver.accepted()
    header = delivery.headers["X-Consistency-Signature"]
    key, body = SECRET.encode(), delivery.body
    assert verify_signature(key, header, body)
    assert not verify_signature(b"another key", header, body)
    assert not verify_signature(key, header, body.replace(b"firing", b"resolve"))
    signed_at = int(header.split(",")[0].removeprefix("t="))
    assert not verify_signature(key, header, body, now=signed_at + 301)
    stale = signature(SECRET, signed_at - 3600, body)
    assert not verify_signature(key, stale, body)
    assert delivery.json()["alerts"][0]["labels"] == CASCADE


async def test_webhook_sends_the_bearer_token_when_configured(receiver: Receiver) -> None:
    registry = Registry()
    hook = a_webhook(receiver.url, registry, bearer_token="hook-token")
    try:
        hook.submit([a_notification()])
        await delivered(receiver, registry)
    finally:
        await hook.close()
    (delivery,) = receiver.accepted()
    assert delivery.headers["Authorization"] == "Bearer hook-token"
    assert "X-Consistency-Signature" not in delivery.headers


async def test_webhook_answered_500_then_200_delivers_the_alert_once() -> None:
    flaky = Receiver(statuses=[500])
    await flaky.start()
    registry = Registry()
    hook = a_webhook(flaky.url, registry)
    try:
        hook.submit([a_notification()])
        await delivered(flaky, registry)
    finally:
        await hook.close()
        await flaky.close()
    assert [d.status for d in flaky.deliveries] == [500, 200]
    assert len(flaky.accepted()) == 1
    assert flaky.deliveries[1].at - flaky.deliveries[0].at >= notifiers.BACKOFF * 0.9
    assert (counted(registry, "sent"), counted(registry, "failed")) == (1.0, 0.0)


@pytest.mark.parametrize(("status", "tries"), [(400, 1), (404, 1), (429, 2), (408, 2)])
async def test_a_4xx_answer_is_not_retried_unless_a_timeout_or_rate_limit(
    status: int, tries: int
) -> None:
    picky = Receiver(statuses=[status])
    await picky.start()
    registry = Registry()
    hook = a_webhook(picky.url, registry)
    try:
        hook.submit([a_notification()])
        await delivered(picky, registry)
    finally:
        await hook.close()
        await picky.close()
    assert [d.status for d in picky.deliveries] == [status, 200][:tries]
    assert (counted(registry, "sent"), counted(registry, "failed")) == (tries - 1, 2 - tries)


async def test_closing_a_notifier_delivers_what_is_queued_first(receiver: Receiver) -> None:
    registry = Registry()
    hook = a_webhook(receiver.url, registry)
    hook.submit([a_notification(), a_notification("resolved")])
    await hook.close()  # at once: both are still queued or in flight
    assert [d.json()["status"] for d in receiver.accepted()] == ["firing", "resolved"]
    assert (counted(registry, "sent"), counted(registry, "dropped")) == (2.0, 0.0)


async def test_what_a_closing_notifier_cannot_deliver_in_time_is_counted_dropped() -> None:
    hanging = Receiver(hang=True)
    await hanging.start()
    registry = Registry()
    hook = a_webhook(hanging.url, registry, timeout=5.0)
    try:
        hook.submit([a_notification(), a_notification("resolved")])
        await hook.close(drain=0.2)
    finally:
        await hanging.close()
    assert hanging.hung == 1  # the first was in flight; the second never left the queue
    assert (counted(registry, "sent"), counted(registry, "dropped")) == (0.0, 1.0)


# -- the webhook through the daemon ----------------------------------------------------------


async def test_daemon_webhook_is_signed_and_carries_the_bearer_token(
    tmp_path: Path, receiver: Receiver, verify_signature: Verify
) -> None:
    hook = {"url": receiver.url, "secret": SECRET, "bearer_token": "hook-token"}
    path = write_config(
        tmp_path / "monitor.yaml",
        fast_config(targets={"sim": {"skip_cascade": 1}}, alerts={"webhooks": [hook]}),
    )
    async with running_daemon(path, tmp_path / "state") as daemon:
        await eventually(
            polled(lambda: receiver.accepted()), bool, within=20, what="a webhook delivery"
        )
        scraped = await scrape(daemon)
    delivery = receiver.accepted()[0]
    assert delivery.json()["alerts"][0]["labels"] == CASCADE
    assert verify_signature(
        SECRET.encode(), delivery.headers["X-Consistency-Signature"], delivery.body
    )
    assert delivery.headers["Authorization"] == "Bearer hook-token"
    assert notifications(scraped, "sent") == 1.0


async def test_hanging_webhook_neither_delays_probe_runs_nor_grows_its_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifiers, "BACKOFF", 0.05)  # the test is about timeouts, not waits
    hanging = Receiver(hang=True)
    await hanging.start()
    targets = {name: {"skip_cascade": 1.0} for name in ("a", "b", "c")}
    hook = {"url": hanging.url, "timeout": "1s"}
    alerts = {"webhooks": [hook], "queue_size": 1, "rules": ONLY_INCONSISTENCY}
    path = write_config(tmp_path / "monitor.yaml", fast_config(targets=targets, alerts=alerts))
    try:
        async with running_daemon(path, tmp_path / "state") as daemon:
            await eventually(
                polled(lambda: hanging.hung),
                lambda n: n >= 1,
                within=20,
                what="the first webhook request to hang",
            )
            since = time.time()
            scraped = await eventually(
                lambda: scrape(daemon),
                lambda m: notifications(m, "failed") >= 1 and notifications(m, "dropped") >= 1,
                within=30,
                what="a timed-out notification counted failed and one counted dropped",
            )
            until = time.time()
            runs = {t: _starts(daemon, t, since, until) for t in targets}
    finally:
        await hanging.close()
    assert hanging.hung >= notifiers.ATTEMPTS  # every try of the first one hung, then timed out
    assert notifications(scraped, "sent") == 0.0
    window = until - since
    for target, starts in runs.items():
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert len(starts) >= window - 1, (target, window, starts)
        assert max(gaps) < 1.5, (target, gaps)  # interval 1 s: runs kept their schedule


def _starts(daemon: Daemon, target: str, since: float, until: float) -> list[float]:
    history = daemon.recorder.history(target, "delete_cascade")
    return [e.started_at for e in history if since <= e.started_at <= until]


# -- silences ---------------------------------------------------------------------------------


async def test_api_silence_mutes_the_webhook_while_alertmanager_still_gets_the_alert(
    tmp_path: Path, alertmanager_binary: str, am_receiver: Receiver, receiver: Receiver
) -> None:
    am_config = webhook_config(am_receiver.url)
    async with running_alertmanager(alertmanager_binary, am_config, tmp_path / "am") as am:
        alerts = {"alertmanagers": [{"url": am.url}], "webhooks": [{"url": receiver.url}]}
        path = write_config(
            tmp_path / "monitor.yaml",
            fast_config(targets={"muted": {}, "heard": {}}, alerts=alerts),
        )
        async with running_daemon(path, tmp_path / "state") as daemon:
            status, silence = await api(
                daemon,
                "POST",
                "/api/silences",
                json={"matchers": {"target": "muted"}, "comment": "under repair"},
            )
            assert status == 201, silence
            for target in ("muted", "heard"):
                inject(daemon, target, skip_cascade=1.0)
            muted, heard = {**CASCADE, "target": "muted"}, {**CASCADE, "target": "heard"}
            await eventually(
                am.alerts,
                lambda found: all(any(map(labelled(m), found)) for m in (muted, heard)),
                within=20,
                what="both cascade alerts in Alertmanager",
            )
            await eventually(
                polled(lambda: statuses(receiver, heard)),
                bool,
                within=20,
                what="the unsilenced alert at the webhook",
            )
            assert statuses(receiver, muted) == []

            removed_at = time.time()
            assert (await api(daemon, "DELETE", f"/api/silences/{silence['id']}"))[0] == 204
            assert (await api(daemon, "DELETE", f"/api/silences/{silence['id']}"))[0] == 404
            _, listed = await api(daemon, "GET", "/api/silences")
            assert listed == {"silences": []}
            arrivals = await eventually(
                polled(lambda: received(receiver, muted)),
                bool,
                within=20,
                what="the alert once unsilenced",
            )
    assert arrivals[0][1] == "firing"
    assert arrivals[0][0] >= removed_at


async def test_api_silences_persist_across_a_daemon_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = write_config(
        tmp_path / "monitor.yaml",
        fast_config(alerts={"webhooks": [{"url": receiver.url}], "rules": ONLY_INCONSISTENCY}),
    )
    state = tmp_path / "state"
    wanted = {"matchers": {"target": "sim"}, "comment": "kept", "ends_at": time.time() + 3600}
    async with running_daemon(path, state) as daemon:
        status, silence = await api(daemon, "POST", "/api/silences", json=wanted)
        assert status == 201
    assert (state / "silences.json").exists()

    async with running_daemon(path, state) as daemon:
        _, listed = await api(daemon, "GET", "/api/silences")
        assert listed == {"silences": [silence]}
        inject(daemon, "sim", skip_cascade=1.0)
        await eventually(
            polled(lambda: firing(daemon, CASCADE)),
            lambda found: [a.state for a in found] == ["firing"],
            within=20,
            what="the cascade alert firing",
        )
        assert statuses(receiver, CASCADE) == []
        removed_at = time.time()
        assert (await api(daemon, "DELETE", f"/api/silences/{silence['id']}"))[0] == 204
        arrivals = await eventually(
            polled(lambda: received(receiver, CASCADE)),
            bool,
            within=20,
            what="the alert once unsilenced",
        )
    assert arrivals[0][0] >= removed_at


async def test_config_silence_mutes_until_its_end_time(tmp_path: Path, receiver: Receiver) -> None:
    ends = time.time() + 4.0
    silence = {
        "matchers": {"kind": "cascade"},
        "ends_at": dt.datetime.fromtimestamp(ends, tz=dt.UTC).isoformat(),
        "comment": "maintenance",
    }
    alerts = {"webhooks": [{"url": receiver.url}], "silences": [silence]}
    path = write_config(
        tmp_path / "monitor.yaml",
        fast_config(targets={"sim": {"skip_cascade": 1}}, alerts=alerts),
    )
    async with running_daemon(path, tmp_path / "state") as daemon:
        _, listed = await api(daemon, "GET", "/api/silences")
        assert [s["id"] for s in listed["silences"]] == ["config-0"]
        fired = await eventually(
            polled(lambda: firing(daemon, CASCADE)),
            lambda found: [a.state for a in found] == ["firing"],
            within=20,
            what="the cascade alert firing",
        )
        arrivals = await eventually(
            polled(lambda: received(receiver, CASCADE)),
            bool,
            within=20,
            what="the alert once the silence ended",
        )
    assert fired[0].fired_at is not None and fired[0].fired_at < ends
    assert arrivals[0][0] >= ends and arrivals[0][1] == "firing"


async def test_silences_api_needs_the_admin_token(tmp_path: Path) -> None:
    path = write_config(tmp_path / "monitor.yaml", fast_config())
    body = {"matchers": {"target": "sim"}}
    async with running_daemon(path, tmp_path / "state") as daemon:
        assert (await api(daemon, "POST", "/api/silences", token=None, json=body))[0] == 401
        assert (await api(daemon, "POST", "/api/silences", token="wrong", json=body))[0] == 401
        status, silence = await api(daemon, "POST", "/api/silences", json=body)
        assert status == 201
        gone = f"/api/silences/{silence['id']}"
        assert (await api(daemon, "DELETE", gone, token=None))[0] == 401
        assert (await api(daemon, "DELETE", gone, token="wrong"))[0] == 401
        _, listed = await api(daemon, "GET", "/api/silences", token=None)
        assert listed == {"silences": [silence]}


# -- what the daemon exports ------------------------------------------------------------------


def alert_series(scraped: Scrape) -> list[dict[str, str]]:
    return [s.labels for s in scraped.samples("consistency_alerts") if s.value == 1.0]


async def test_alerts_metric_shows_pending_then_firing_and_vanishes_when_resolved(
    tmp_path: Path,
) -> None:
    rules = {**ONLY_INCONSISTENCY, "inconsistency": {"for": "2s"}}
    path = tmp_path / "monitor.yaml"
    write_config(path, fast_config(targets={"sim": {"skip_cascade": 1}}, alerts={"rules": rules}))
    async with running_daemon(path, tmp_path / "state") as daemon:
        for state in ("pending", "firing"):
            scraped = await eventually(
                lambda: scrape(daemon),
                lambda m, state=state: [s["state"] for s in alert_series(m)] == [state],
                within=20,
                what=f"consistency_alerts with state={state}",
            )
            assert alert_series(scraped) == [{**CASCADE, "state": state}]
        write_config(path, fast_config(targets={"sim": {}}, alerts={"rules": rules}))
        assert (await daemon.reload()).ok
        scraped = await eventually(
            lambda: scrape(daemon),
            lambda m: not m.samples("consistency_alerts"),
            within=20,
            what="no consistency_alerts series once resolved",
        )
    assert "# TYPE consistency_alerts gauge" in scraped.text


async def test_alert_link_opens_the_run_on_the_status_page(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    write_config(path, fast_config(targets={"sim": {"skip_cascade": 1}}))
    async with running_daemon(path, tmp_path / "state") as daemon:
        (alert,) = await eventually(
            polled(lambda: firing(daemon, CASCADE)), bool, within=20, what="the cascade alert"
        )
        async with (
            aiohttp.ClientSession() as session,
            session.get(alert.annotations["link"]) as resp,
        ):
            assert resp.status == 200
