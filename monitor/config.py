"""The configuration file: pydantic models, loading, and errors that name their key path."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.durations import DURATION_HINT, parse_duration
from monitor.envsubst import ConfigError, interpolate, read_secret_files
from monitor.settings import Deadlines, ProbeSettings

__all__ = ["Config", "ConfigError", "TargetConfig", "default_config_text", "load_config"]

DEFAULT_CONFIG = "monitor.yaml"


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(DURATION_HINT) from None


Duration = Annotated[float, BeforeValidator(_duration)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlinesConfig(Strict):
    """Two deadlines for every propagation, and the `load` probe's budget."""

    sync: Duration = Field(1.0, gt=0, description="later than this, a change is `slow`")
    give_up: Duration = Field(5.0, gt=0, description="not visible by then: missing/stale/...")
    load: Duration = Field(3.0, gt=0, description="budget for the `load` probe's three cycles")

    @model_validator(mode="after")
    def _sync_before_give_up(self) -> DeadlinesConfig:
        if self.sync >= self.give_up:
            raise ValueError("sync must be shorter than give_up")
        return self

    def resolved(self) -> Deadlines:
        return Deadlines(sync=self.sync, give_up=self.give_up, load=self.load)


class DeadlinesOverride(Strict):
    sync: Duration | None = Field(None, gt=0)
    give_up: Duration | None = Field(None, gt=0)
    load: Duration | None = Field(None, gt=0)


class ProbeOverrides(Strict):
    """Per-probe settings; anything left out comes from `defaults`."""

    interval: Duration | None = Field(None, gt=0)
    timeout: Duration | None = Field(None, gt=0)
    jitter: Duration | None = Field(None, ge=0)
    deadlines: DeadlinesOverride | None = None


class Defaults(Strict):
    interval: Duration = Field(30.0, gt=0, description="how often each probe runs")
    timeout: Duration = Field(25.0, gt=0, description="a run's hard limit")
    jitter: Duration = Field(0.0, ge=0, description="extra random delay per run")
    cleanup_deadline: Duration = Field(5.0, gt=0, description="limit for a run's cleanup")
    deadlines: DeadlinesConfig = DeadlinesConfig()


def _per_operation(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"create": value, "update": value, "delete": value}
    return value


class SyncFault(Strict):
    """Probability per operation that a sync event suffers the fault."""

    create: Probability = 0.0
    update: Probability = 0.0
    delete: Probability = 0.0


PerOperation = Annotated[SyncFault, BeforeValidator(_per_operation)]


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

    auth_latency: Duration = Field(0.05, ge=0)
    backend_latency: Duration = Field(0.0, ge=0)
    sync_delay: Duration = Field(0.04, ge=0)
    latency_jitter: Duration = Field(0.0, ge=0)
    reorder_hold: Duration = Field(0.25, ge=0, description="how late a reordered update lands")
    seed: int | None = None
    faults: FaultsConfig = FaultsConfig()


def _probe_map(value: object) -> object:
    if isinstance(value, list):
        return {name: None for name in value}
    return value


class TargetConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=63)
    simulator: SimulatorConfig | None = None
    probes: Annotated[dict[str, ProbeOverrides | None] | None, BeforeValidator(_probe_map)] = None
    max_concurrency: int = Field(4, ge=1)
    synthetic_domain: str = Field("consistency-monitor.invalid", min_length=1)

    @model_validator(mode="after")
    def _has_a_kind(self) -> TargetConfig:
        if self.simulator is None:
            raise ValueError("a target needs a `simulator:` block")
        return self


class ServerConfig(Strict):
    listen: str = "0.0.0.0:9465"
    external_url: str | None = None
    admin_token: SecretStr | None = None
    history: int = Field(100, ge=1, le=10_000)


class Config(Strict):
    defaults: Defaults = Defaults()
    targets: list[TargetConfig] = Field(min_length=1)
    server: ServerConfig = ServerConfig()

    @field_validator("targets")
    @classmethod
    def _unique_names(cls, targets: list[TargetConfig]) -> list[TargetConfig]:
        names = [t.name for t in targets]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate target names: {', '.join(duplicated)}")
        return targets

    def target(self, name: str) -> TargetConfig:
        return next(t for t in self.targets if t.name == name)

    def probe_names(self, target: TargetConfig) -> list[str]:
        """The probes a target runs: those listed, else every probe."""
        from monitor.probes import PROBE_NAMES

        return list(target.probes) if target.probes is not None else list(PROBE_NAMES)

    def probe_settings(self, target: TargetConfig, probe: str) -> ProbeSettings:
        """Defaults overlaid with the probe's overrides."""
        over = (target.probes or {}).get(probe) or ProbeOverrides()
        d = self.defaults
        deadlines = d.deadlines.model_copy(
            update=over.deadlines.model_dump(exclude_none=True) if over.deadlines else {}
        )
        return ProbeSettings(
            deadlines=deadlines.resolved(),
            timeout=over.timeout if over.timeout is not None else d.timeout,
            interval=over.interval if over.interval is not None else d.interval,
            jitter=over.jitter if over.jitter is not None else d.jitter,
            cleanup_deadline=d.cleanup_deadline,
        )


def format_loc(loc: tuple[int | str, ...]) -> str:
    """`('targets', 1, 'name')` → `targets[1].name`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required",
}


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] in _MESSAGES:
        return _MESSAGES[err["type"]]
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _loc(err: Mapping[str, Any]) -> tuple[int | str, ...]:
    # pydantic adds the validator's type name for function-wrapped and nullable fields
    return tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p == "none")))


def validation_messages(exc: ValidationError) -> list[str]:
    """One line per problem, each with its key path, never with the offending value."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        path = format_loc(_loc(err))
        lines.append(f"{path}: {_message(err)}" if path else _message(err))
    return list(dict.fromkeys(lines))


def _timeout_key(config: Config, index: int, probe: str) -> str:
    target = config.targets[index]
    override = (target.probes or {}).get(probe)
    if override is not None and override.timeout is not None:
        return f"targets[{index}].probes.{probe}.timeout"
    return f"defaults.timeout (for {target.name}:{probe})"


def _semantic_errors(config: Config) -> list[str]:
    """Unknown probe names, and timeouts shorter than a probe's worst case."""
    from monitor.probes import PROBE_NAMES, REGISTRY

    errors = []
    for i, target in enumerate(config.targets):
        for name in config.probe_names(target):
            if name not in REGISTRY:
                valid = ", ".join(PROBE_NAMES)
                errors.append(f"targets[{i}].probes.{name}: unknown probe (valid: {valid})")
                continue
            settings = config.probe_settings(target, name)
            minimum = REGISTRY[name].worst_case(settings.deadlines)
            if settings.timeout < minimum:
                errors.append(
                    f"{_timeout_key(config, i, name)}: {settings.timeout:g}s is shorter than "
                    f"probe {name}'s worst case from its deadlines; minimum {minimum:g}s"
                )
    return errors


def parse_config(data: object, *, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate a parsed YAML document; raises ConfigError listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a YAML mapping"])
    data = read_secret_files(interpolate(data), base_dir or Path.cwd())
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_messages(exc)) from None
    if errors := _semantic_errors(config):
        raise ConfigError(source, errors)
    return config


def load_config(path: Path | None) -> Config:
    """Load and validate a config file; `None` means the embedded default."""
    if path is None:
        return parse_config(yaml.safe_load(default_config_text()), source="embedded default")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}not valid YAML"]) from None
    return parse_config(data, source=str(path), base_dir=path.parent)


def default_config_text() -> str:
    """The embedded default config: one simulator target."""
    return resources.files("monitor").joinpath("default_config", DEFAULT_CONFIG).read_text()
