"""The `alerts:` section: built-in rules (on by default), notifiers and silences."""

from __future__ import annotations

import datetime as dt

from pydantic import ConfigDict, Field, SecretStr

from monitor.config_types import NonNegativeDuration, PositiveDuration, Strict
from monitor.results import KINDS

CRITICAL_KINDS = ("cascade", "orphan", "rollback")  # data that should be gone is not


class Rule(Strict):
    model_config = ConfigDict(populate_by_name=True)

    enabled: bool = True
    for_: NonNegativeDuration = Field(
        0.0, alias="for", description="pending this long before firing"
    )


class InconsistencyRule(Rule):
    """Any inconsistency of these kinds in the last run of a target × probe."""

    kinds: list[str] = Field(default_factory=lambda: list(KINDS))
    critical: list[str] = Field(default_factory=lambda: list(CRITICAL_KINDS))


class SyncLatencyRule(Rule):
    """Observed sync latency above `threshold` for `runs` consecutive runs."""

    threshold: PositiveDuration = 1.0
    runs: int = Field(3, ge=1)


class SuccessRatioRule(Rule):
    """Pass ratio over the last `runs` runs below `threshold`."""

    threshold: float = Field(0.9, gt=0, le=1)
    runs: int = Field(20, ge=1)


class ProbeErrorsRule(Rule):
    """`outcome=error` for `runs` consecutive runs (a side unreachable)."""

    runs: int = Field(3, ge=1)


class StaleProbeRule(Rule):
    """No completed run for `intervals` intervals (the scheduler is stuck)."""

    intervals: float = Field(3.0, gt=1)


class Rules(Strict):
    inconsistency: InconsistencyRule = InconsistencyRule()
    sync_latency: SyncLatencyRule = SyncLatencyRule()
    success_ratio: SuccessRatioRule = SuccessRatioRule()
    probe_errors: ProbeErrorsRule = ProbeErrorsRule()
    stale_probe: StaleProbeRule = StaleProbeRule()


class AlertmanagerTarget(Strict):
    url: str = Field(pattern=r"^https?://", description="Alertmanager base URL")
    timeout: PositiveDuration = 5.0


class WebhookTarget(Strict):
    url: str = Field(pattern=r"^https?://")
    timeout: PositiveDuration = 5.0
    bearer_token: SecretStr | None = None
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key for the signature")


class SilenceConfig(Strict):
    """Mutes the built-in notifiers for alerts whose labels equal every matcher."""

    matchers: dict[str, str] = Field(min_length=1)
    ends_at: dt.datetime | None = None
    comment: str = ""


class AlertsConfig(Strict):
    rules: Rules = Rules()
    evaluation_interval: PositiveDuration = 5.0
    resend_interval: PositiveDuration = Field(60.0, description="re-send firing alerts this often")
    queue_size: int = Field(1000, ge=1, description="per notifier; beyond it alerts are dropped")
    alertmanagers: list[AlertmanagerTarget] = Field(default_factory=list)
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    silences: list[SilenceConfig] = Field(default_factory=list)
