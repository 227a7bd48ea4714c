"""Notifier payloads: Alertmanager's API shape and its webhook shape, built without a network."""

from __future__ import annotations

from monitor.alerts.engine import Alert, Notification
from monitor.alerts.notifiers import WebhookNotifier, am_alert, group_key, iso, signature
from monitor.metric_types import Counter

T0 = 1_800_000_000.0
LABELS = {
    "alertname": "ConsistencyInconsistency",
    "target": "sim",
    "probe": "delete_cascade",
    "severity": "critical",
    "kind": "cascade",
}
ALERT = Alert(LABELS, {"summary": "s", "link": "http://mon/results/7"}, "firing", T0, T0 + 1)


def webhook() -> WebhookNotifier:
    counter = Counter("n", "test", ("notifier", "result"))
    return WebhookNotifier(
        "http://hook.test/",
        timeout=1.0,
        queue_size=1,
        counter=counter,
        bearer_token=None,
        secret=None,
        external_url="http://mon",
    )


def test_alertmanager_alert_ends_four_resend_intervals_ahead_while_firing() -> None:
    sent = am_alert(ALERT, status="firing", now=T0 + 10, ends_in=240, external_url="http://mon")
    assert sent == {
        "labels": LABELS,
        "annotations": {"summary": "s", "link": "http://mon/results/7"},
        "startsAt": iso(T0 + 1),
        "endsAt": iso(T0 + 250),
        "generatorURL": "http://mon/results/7",
    }


def test_alertmanager_alert_ends_when_it_resolved() -> None:
    sent = am_alert(ALERT, status="resolved", now=T0 + 10, ends_in=240, external_url="http://mon")
    assert sent["endsAt"] == iso(T0 + 10)


def test_webhook_firing_alert_has_alertmanagers_zero_end_time() -> None:
    body = webhook().payload(Notification("firing", ALERT, T0 + 2, False))
    assert body["status"] == "firing"
    assert body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert body["alerts"][0]["startsAt"] == iso(T0 + 1)


def test_webhook_resolved_alert_ends_when_it_resolved() -> None:
    body = webhook().payload(Notification("resolved", ALERT, T0 + 9, False))
    assert (body["status"], body["alerts"][0]["status"]) == ("resolved", "resolved")
    assert body["alerts"][0]["endsAt"] == iso(T0 + 9)


def test_webhook_group_is_the_alert_itself() -> None:
    body = webhook().payload(Notification("firing", ALERT, T0 + 2, False))
    assert body["groupLabels"] == body["commonLabels"] == LABELS
    assert body["groupKey"] == (
        '{}:{alertname="ConsistencyInconsistency", kind="cascade", probe="delete_cascade", '
        'severity="critical", target="sim"}'
    )
    orphan = Alert({**LABELS, "kind": "orphan"}, {}, "firing", T0)
    assert group_key(orphan.labels) != body["groupKey"]


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # printf '1800000000.{}' | openssl dgst -sha256 -hmac key
    expected = "7321475872b03ff21bdc2dfd86ea2d99ec29c479fbe4a77aa6acf4509505493f"
    assert signature("key", 1_800_000_000, b"{}") == f"t=1800000000,v1={expected}"


def test_times_are_written_as_alertmanager_writes_them() -> None:
    # Go's RFC3339Nano: no trailing zeros in the fraction, no point when none is left.
    assert iso(T0) == "2027-01-15T08:00:00Z"
    assert iso(T0 + 0.39) == "2027-01-15T08:00:00.39Z"
    assert iso(T0 + 0.5) == "2027-01-15T08:00:00.5Z"
    assert iso(T0 + 0.125) == "2027-01-15T08:00:00.125Z"
    assert iso(T0 + 0.0129) == "2027-01-15T08:00:00.012Z"
