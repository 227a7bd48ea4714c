"""The simulator's HTTP plumbing: JSON bodies in, JSON errors out, and the user shape,
flat field names (`profile.locale`) ↔ nested JSON objects (`{"profile": {"locale"}}`).

Bodies are checked here, so a bad one is a 400 naming the field, never a 500.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from aiohttp import web

from monitor.sim.model import PROFILE_DEFAULTS, BadRequest, Fields
from monitor.sim.truth import FaultRecord, Visibility
from monitor.sim.world import World

PROFILE = "profile"
PROFILE_KEYS = tuple(name.removeprefix("profile.") for name in PROFILE_DEFAULTS)
USER_KEYS = ("email", "display_name", PROFILE)

WORLD = web.AppKey("world", World)


def error(status: int, message: str, **extra: object) -> web.Response:
    """Every error both services answer: `{"error": message}`."""
    return web.json_response({"error": message, **extra}, status=status)


async def body_of(request: web.Request) -> object:
    """The request's JSON body; BadRequest (400) when it is missing or not JSON."""
    try:
        return await request.json()
    except ValueError:
        raise BadRequest("body: expected JSON") from None


def nested(fields: Mapping[str, str]) -> dict[str, Any]:
    """`{"profile.locale": "de"}` → `{"profile": {"locale": "de"}}`; `profile` always present."""
    top: dict[str, Any] = {}
    profile: dict[str, str] = {}
    for name, value in fields.items():
        group, dot, key = name.partition(".")
        if dot and group == PROFILE:
            profile[key] = value
        else:
            top[name] = value
    return {**top, PROFILE: profile}


def flat(body: object, *, allowed: Collection[str] = USER_KEYS, what: str = "body") -> Fields:
    """A user body (any subset of `allowed` keys) as flat fields; BadRequest names the problem."""
    document = json_object(body, what)
    only(document, allowed, what)
    fields: Fields = {}
    for name, value in document.items():
        if name == PROFILE:
            fields |= _profile(value, f"{what}.{PROFILE}")
        else:
            fields[name] = text(value, f"{what}.{name}")
    return fields


def json_object(value: object, what: str = "body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what}: expected a JSON object")
    return value


def _profile(value: object, what: str) -> Fields:
    document = json_object(value, what)
    only(document, PROFILE_KEYS, what)
    return {f"{PROFILE}.{key}": text(v, f"{what}.{key}") for key, v in document.items()}


def only(document: Mapping[str, Any], allowed: Collection[str], what: str = "body") -> None:
    """BadRequest naming the first key that is not `allowed`."""
    for key in document:
        if key not in allowed:
            raise BadRequest(f"{what}.{key}: unknown field (valid: {', '.join(allowed)})")


def text(value: object, what: str) -> str:
    """A JSON string; BadRequest naming the field otherwise."""
    if not isinstance(value, str):
        raise BadRequest(f"{what}: expected a string")
    return value


def required(document: Mapping[str, Any], key: str, what: str = "body") -> object:
    """The value under `key`; BadRequest when it is missing."""
    if key not in document:
        raise BadRequest(f"{what}.{key}: required")
    return document[key]


def boolean(value: object, what: str) -> bool:
    """A JSON boolean; `"true"`/`"false"` too, for HTTP clients whose templates yield text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequest(f"{what}: expected true or false")


def change_json(seq: int, change: Visibility) -> dict[str, Any]:
    return {
        "seq": seq,
        "op": change.op,
        "user_id": change.user_id,
        "version": change.version,
        "emitted_at": change.emitted_at,
        "visible_at": change.visible_at,
    }


def fault_json(record: FaultRecord) -> dict[str, Any]:
    return {
        "fault": record.fault,
        "user_id": record.user_id,
        "operation": record.operation,
        "version": record.version,
        "at": record.at,
        "observable": record.observable,
        "during_cleanup": record.during_cleanup,
    }
