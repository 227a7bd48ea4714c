"""Checks that span several keys, run once the file has the right shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.config_sides import shared_fields, side_errors, template_errors
from monitor.durations import format_duration
from monitor.probes import REGISTRY
from monitor.settings import Deadlines

if TYPE_CHECKING:
    from monitor.config import Config, TargetConfig


def semantic_errors(config: Config) -> list[str]:
    """Duplicate target names, crossed deadlines, and timeouts shorter than a worst case."""
    errors = _duplicate_names(config)
    for index, target in enumerate(config.targets):
        errors += _side_errors(index, target) + _capability_errors(index, target)
        errors += _deadline_errors(config, index, target) + _timeout_errors(config, index, target)
    return errors


def _side_errors(index: int, target: TargetConfig) -> list[str]:
    errors = []
    sides = (("auth", target.auth), ("backend", target.backend))
    fields = shared_fields(target.auth, target.backend) if target.auth and target.backend else ()
    for which, side in sides:
        if side is not None:
            found = side_errors(side, which) + template_errors(side, fields)
            errors += [f"targets[{index}].{which}.{key}: {problem}" for key, problem in found]
    return errors


def _capability_errors(index: int, target: TargetConfig) -> list[str]:
    """Enabling a probe the target cannot run is an error naming the missing call."""
    errors = []
    for probe in target.probes or {}:
        if missing := target.runnable(probe):
            errors.append(
                f"targets[{index}].probes.{probe}: the target cannot run it: missing "
                f"{', '.join(missing)}"
            )
    return errors


def _duplicate_names(config: Config) -> list[str]:
    first: dict[str, int] = {}
    errors = []
    for index, target in enumerate(config.targets):
        if target.name in first:
            errors.append(
                f"targets[{index}].name: duplicate target name (also targets[{first[target.name]}])"
            )
        first.setdefault(target.name, index)
    return errors


def _deadline_errors(config: Config, index: int, target: TargetConfig) -> list[str]:
    """A probe's own deadlines, laid over the defaults, must still have sync < give_up."""
    errors = []
    for probe, over in (target.probes or {}).items():
        if over is None or over.deadlines is None:
            continue
        if not _ordered(config.probe_settings(target, probe).deadlines):
            both = None not in (over.deadlines.sync, over.deadlines.give_up)
            inherited = "" if both else " (one of them comes from defaults.deadlines)"
            path = f"targets[{index}].probes.{probe}.deadlines"
            errors.append(f"{path}: sync must be shorter than give_up{inherited}")
    return errors


def _ordered(deadlines: Deadlines) -> bool:
    """A timeout check makes no sense on crossed deadlines, which are reported on their own."""
    return deadlines.sync < deadlines.give_up


def _timeout_errors(config: Config, index: int, target: TargetConfig) -> list[str]:
    """A run's timeout must leave room for the probe's worst case under its deadlines."""
    errors, short_defaults = [], []
    for probe in config.probe_names(target):
        settings = config.probe_settings(target, probe)
        minimum = REGISTRY[probe].worst_case(settings.deadlines)
        if settings.timeout >= minimum or not _ordered(settings.deadlines):
            continue
        override = (target.probes or {}).get(probe)
        if override is not None and override.timeout is not None:
            path = f"targets[{index}].probes.{probe}.timeout"
            errors.append(f"{path}: {_too_short(settings.timeout, probe, '', minimum)}")
        else:
            short_defaults.append((minimum, probe))
    if short_defaults:
        errors.append(_defaults_timeout_error(config, target, short_defaults))
    return errors


def _defaults_timeout_error(
    config: Config, target: TargetConfig, short: list[tuple[float, str]]
) -> str:
    minimum, probe = max(short)
    where = f" on target {target.name}"
    if len(short) > 1:
        where += f" (and {len(short) - 1} more of its probes)"
    return f"defaults.timeout: {_too_short(config.defaults.timeout, probe, where, minimum)}"


def _too_short(timeout: float, probe: str, where: str, minimum: float) -> str:
    return (
        f"{format_duration(timeout)} is shorter than the worst case of probe {probe}{where} "
        f"under its deadlines; set at least {format_duration(minimum)}"
    )
