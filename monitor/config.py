"""The configuration file: pydantic models, loading, and errors that name their key path."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BeforeValidator, Field, SecretStr, ValidationError, model_validator

from monitor.alerts.config import AlertsConfig
from monitor.config_checks import semantic_errors
from monitor.config_errors import secret_fields, validation_messages
from monitor.config_sides import AUTH_CALLS, BACKEND_CALLS, Side, side_calls
from monitor.config_types import (
    PROBE_LIST_SCHEMA,
    NonNegativeDuration,
    PositiveDuration,
    Probability,
    ProbeName,
    Strict,
    TargetName,
    also_accepts,
    defaults_if_null,
    probe_map,
)
from monitor.envsubst import ConfigError, expand_env, inline_secret_files
from monitor.probes import PROBE_NAMES, REGISTRY
from monitor.settings import Deadlines, ProbeSettings
from monitor.yaml_strict import load_yaml

__all__ = ["Config", "ConfigError", "TargetConfig", "default_config_text", "load_config"]

DEFAULT_CONFIG = "monitor.yaml"


class DeadlinesConfig(Strict):
    """Two deadlines for every propagation, and the `load` probe's budget."""

    sync: PositiveDuration = Field(1.0, description="a change visible later than this is `slow`")
    give_up: PositiveDuration = Field(5.0, description="not visible by then: missing/stale/...")
    load: PositiveDuration = Field(3.0, description="budget for the `load` probe's three cycles")

    @model_validator(mode="after")
    def _sync_before_give_up(self) -> DeadlinesConfig:
        if self.sync >= self.give_up:
            raise ValueError("sync must be shorter than give_up")
        return self

    def resolved(self) -> Deadlines:
        return Deadlines(sync=self.sync, give_up=self.give_up, load=self.load)


class DeadlinesOverride(Strict):
    """Any of `defaults.deadlines`, for one probe."""

    sync: PositiveDuration | None = None
    give_up: PositiveDuration | None = None
    load: PositiveDuration | None = None


class ProbeOverrides(Strict):
    """Per-probe settings; anything left out comes from `defaults`."""

    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    jitter: NonNegativeDuration | None = None
    deadlines: DeadlinesOverride | None = None


class Defaults(Strict):
    """Settings every probe of every target gets unless it overrides them."""

    interval: PositiveDuration = Field(30.0, description="how often each probe runs")
    timeout: PositiveDuration = Field(25.0, description="a run's hard limit")
    jitter: NonNegativeDuration = Field(0.0, description="extra random delay per run")
    cleanup_deadline: PositiveDuration = Field(5.0, description="limit for a run's cleanup")
    deadlines: DeadlinesConfig = DeadlinesConfig()


def _per_operation(value: object) -> object:
    """`drop_sync: 0.1` is short for the same probability on every operation."""
    if isinstance(value, bool) or not isinstance(value, int | float | dict):
        raise ValueError("expected a probability, or a mapping of operation to probability")
    if isinstance(value, dict):
        return value
    return {"create": value, "update": value, "delete": value}


class SyncFault(Strict):
    """Probability per operation that a sync event suffers the fault."""

    create: Probability = 0.0
    update: Probability = 0.0
    delete: Probability = 0.0


PerOperation = Annotated[
    SyncFault,
    BeforeValidator(_per_operation),
    Field(json_schema_extra=also_accepts({"type": "number", "minimum": 0, "maximum": 1})),
]


class FaultsConfig(Strict):
    """Fault probabilities (0-1) for the simulator; all off by default."""

    drop_sync: PerOperation = SyncFault()
    duplicate_sync: Probability = 0.0
    skip_cascade: Probability = 0.0
    partial_update: Probability = 0.0
    clobber_update: Probability = 0.0
    reorder_sync: Probability = 0.0
    half_commit: Probability = 0.0
    non_atomic_rollback: Probability = 0.0
    no_orphan_sweep: Probability = 0.0
    auth_errors: Probability = 0.0


class SimulatorConfig(Strict):
    """The built-in in-process Auth and Backend."""

    auth_latency: NonNegativeDuration = 0.05
    backend_latency: NonNegativeDuration = 0.0
    sync_delay: NonNegativeDuration = 0.04
    latency_jitter: NonNegativeDuration = 0.0
    reorder_hold: NonNegativeDuration = Field(0.25, description="how late a reordered update lands")
    seed: int | None = None
    faults: FaultsConfig = FaultsConfig()


ProbeMap = Annotated[
    dict[ProbeName, ProbeOverrides | None] | None,
    BeforeValidator(probe_map),
    Field(
        json_schema_extra=also_accepts(PROBE_LIST_SCHEMA, propertyNames={"enum": list(PROBE_NAMES)})
    ),
]


class JanitorConfig(Strict):
    """Removes what crashed runs left: ledger entries, and tagged users older than `ttl`."""

    interval: PositiveDuration = Field(300.0, description="how often the janitor runs")
    ttl: PositiveDuration = Field(3600.0, description="tagged users older than this are removed")


class TargetConfig(Strict):
    """One pair of Auth and Backend to probe: the built-in simulator, or real sides."""

    name: TargetName = Field(description="unique; the `target` label of every metric")
    simulator: Annotated[SimulatorConfig | None, BeforeValidator(defaults_if_null)] = None
    auth: Side | None = Field(None, description="the identity store (kind: http or sql)")
    backend: Side | None = Field(None, description="the mirror of its users (kind: http or sql)")
    janitor: JanitorConfig = JanitorConfig()
    probes: ProbeMap = Field(None, description="probes to run (default: all), optionally tuned")
    max_concurrency: int = Field(4, ge=1, description="probe runs in flight at once")
    synthetic_domain: str = Field(
        "consistency-monitor.invalid", min_length=1, description="email domain of probe users"
    )

    @model_validator(mode="after")
    def _has_a_kind(self) -> TargetConfig:
        real = (self.auth is not None, self.backend is not None)
        if self.simulator is not None and any(real):
            raise ValueError("give either `simulator:` or `auth:` and `backend:`, not both")
        if self.simulator is None and not all(real):
            raise ValueError("a target needs a `simulator:` block, or `auth:` and `backend:`")
        return self

    def calls(self) -> frozenset[str]:
        """Every call this target can make, as `side.call` (the simulator can make all)."""
        if self.auth is None or self.backend is None:
            return frozenset(
                {f"auth.{c}" for c in AUTH_CALLS} | {f"backend.{c}" for c in BACKEND_CALLS}
            )
        return frozenset(
            {f"auth.{c}" for c in side_calls(self.auth)}
            | {f"backend.{c}" for c in side_calls(self.backend)}
        )

    def runnable(self, probe: str) -> list[str]:
        """The calls `probe` needs that this target cannot make (empty: it can run)."""
        return sorted(set(REGISTRY[probe].NEEDS) - self.calls())


class ServerConfig(Strict):
    """The HTTP server of `run`: /metrics, the status page and the API."""

    listen: str = Field("0.0.0.0:9465", description="host:port to serve on")
    external_url: str | None = Field(None, description="URL users reach the server at")
    admin_token: SecretStr | None = Field(None, description="bearer token for POST /-/reload")
    history: int = Field(
        100,
        ge=1,
        le=10_000,
        description="recent results kept per target × probe, compressed (about 85 bytes "
        "each: 1000 jobs × 100 take about 9 MB)",
    )


class Config(Strict):
    """The whole configuration file."""

    defaults: Defaults = Defaults()
    targets: list[TargetConfig] = Field(min_length=1)
    server: ServerConfig = ServerConfig()
    alerts: AlertsConfig = AlertsConfig()

    def target(self, name: str) -> TargetConfig:
        return next(t for t in self.targets if t.name == name)

    def probe_names(self, target: TargetConfig) -> list[str]:
        """The probes a target runs: those listed, else every probe it has the calls for."""
        if target.probes is not None:
            return list(target.probes)
        return [p for p in PROBE_NAMES if not target.runnable(p)]

    def probe_settings(self, target: TargetConfig, probe: str) -> ProbeSettings:
        """Defaults overlaid with the probe's overrides."""
        over = (target.probes or {}).get(probe) or ProbeOverrides()
        d = self.defaults
        return ProbeSettings(
            deadlines=_merged(d.deadlines, over.deadlines),
            timeout=over.timeout if over.timeout is not None else d.timeout,
            interval=over.interval if over.interval is not None else d.interval,
            jitter=over.jitter if over.jitter is not None else d.jitter,
            cleanup_deadline=d.cleanup_deadline,
        )


def _merged(defaults: DeadlinesConfig, override: DeadlinesOverride | None) -> Deadlines:
    """`defaults.deadlines` with a probe's own laid over them (checked in config_checks)."""
    own = override.model_dump(exclude_none=True) if override else {}
    return Deadlines(**(defaults.model_dump() | own))


SECRET_FIELDS = secret_fields(Config)


def parse_config(
    data: object,
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Validate a parsed YAML document; raises ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(source, [_not_a_mapping(data)])
    document, errors = expand_env(data, env)
    inlined, file_errors = inline_secret_files(document, base_dir or Path.cwd(), SECRET_FIELDS)
    errors += file_errors
    try:
        config = Config.model_validate(inlined)
    except ValidationError as exc:
        errors += _not_yet_reported(validation_messages(exc, document, Config), errors)
        raise ConfigError(source, errors) from None
    errors += _not_yet_reported(semantic_errors(config), errors)
    if errors:
        raise ConfigError(source, errors)
    return config


def _not_a_mapping(data: object) -> str:
    if data is None:
        return "the file is empty; it needs at least a `targets:` list"
    return "the file must be a YAML mapping (`key: value` lines), starting with `targets:`"


def _not_yet_reported(lines: list[str], reported: list[str]) -> list[str]:
    """Drop validation errors on keys whose `${VAR}` or `*_file` already failed."""
    failed = {line.split(": ", 1)[0] for line in reported}
    failed |= {path.removesuffix("_file") for path in failed}
    return [line for line in lines if line.split(": ", 1)[0] not in failed]


def load_config(path: Path | None, *, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate a config file; `None` means the embedded default."""
    if path is None:
        text, source, base = default_config_text(), "embedded default", Path.cwd()
    else:
        text, source, base = _read(path), str(path), path.parent
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [_yaml_problem(exc)]) from None
    return parse_config(data, source=source, base_dir=base, env=env)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["cannot read: not UTF-8 text"]) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """`line 3, column 7: not valid YAML: mapping values are not allowed here`."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None)
    return f"{where}not valid YAML" + (f": {problem}" if problem else "")


def default_config_text() -> str:
    """The embedded default config: one simulator target."""
    return resources.files("monitor").joinpath("default_config", DEFAULT_CONFIG).read_text()
