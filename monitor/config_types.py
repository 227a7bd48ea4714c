"""The value types of the config file: durations, probabilities, probe names, target names."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from monitor.config_errors import allowed_keys
from monitor.durations import DURATION_HINT, DURATION_PATTERN, parse_duration
from monitor.probes import PROBE_NAMES

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(DURATION_HINT) from None


def _duration_schema(bound: str) -> dict[str, Any]:
    text = {"type": "string", "pattern": DURATION_PATTERN, "examples": ["500ms", "30s", "5m"]}
    return {"anyOf": [{"type": "number", bound: 0}, text]}


PositiveDuration = Annotated[
    float,
    BeforeValidator(_duration),
    Field(gt=0),
    WithJsonSchema(_duration_schema("exclusiveMinimum")),
]
NonNegativeDuration = Annotated[
    float, BeforeValidator(_duration), Field(ge=0), WithJsonSchema(_duration_schema("minimum"))
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


def _secret_file_keys(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Document `<secret>_file`, the other way to give a secret, in the JSON Schema."""
    properties = schema.get("properties", {})
    for key in allowed_keys(model):
        if key not in properties:
            secret = key.removesuffix("_file")
            about = f"file holding `{secret}`, relative to the config file"
            properties[key] = {"type": "string", "description": about}


class Strict(BaseModel):
    """Every config model: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_secret_file_keys)


def _known_probe(name: str) -> str:
    if name not in PROBE_NAMES:
        raise ValueError(f"unknown probe (valid: {', '.join(PROBE_NAMES)})")
    return name


def probe_map(value: object) -> object:
    """`probes: [a, b]` is short for `probes: {a: null, b: null}`."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        return dict.fromkeys(value)
    raise ValueError("expected a list of probe names, or a mapping of name to settings")


ProbeName = Annotated[str, AfterValidator(_known_probe)]
PROBE_LIST_SCHEMA = {"type": "array", "items": {"enum": list(PROBE_NAMES)}}


def also_accepts(shorthand: dict[str, Any], **extra: Any) -> Callable[[dict[str, Any]], None]:
    """A JSON Schema hook: the property also takes its shorthand (`drop_sync: 0.1`)."""

    def widen(schema: dict[str, Any]) -> None:
        keys = ("default", "description", "title")
        meta: dict[str, Any] = {k: schema.pop(k) for k in keys if k in schema}
        full = dict(schema)
        schema.clear()
        schema.update(meta, anyOf=[shorthand, full], **extra)

    return widen


def _target_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError("must be 1-63 letters, digits, `_`, `.` or `-`, starting alphanumeric")
    return name


TargetName = Annotated[
    str, AfterValidator(_target_name), Field(json_schema_extra={"pattern": NAME_PATTERN})
]


def defaults_if_null(value: object) -> object:
    """`simulator:` with nothing under it means the simulator with its defaults."""
    return {} if value is None else value
