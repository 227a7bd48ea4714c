"""The simulator's shared vocabulary: user fields, change events, errors."""

from __future__ import annotations

from dataclasses import dataclass, field

PROFILE_DEFAULTS = {
    "profile.locale": "en",
    "profile.timezone": "UTC",
    "profile.plan": "free",
    "profile.city": "",
    "profile.theme": "light",
}
FIELD_DEFAULTS = {"display_name": "", **PROFILE_DEFAULTS}
FIELDS = ("email", *FIELD_DEFAULTS)

Fields = dict[str, str]


class SimError(Exception):
    """A simulated service answered with an error."""

    status = 500


class ServerError(SimError):
    status = 500


class Unavailable(SimError):
    status = 503


class NotFoundError(SimError):
    status = 404


class ConflictError(SimError):
    status = 409


class BadRequest(SimError):
    status = 400


@dataclass(frozen=True)
class Event:
    """A change Auth emitted to its outbox; Backend applies it after the sync delay."""

    seq: int
    op: str  # create | update | delete
    user_id: str
    version: int
    fields: Fields  # full snapshot for create, changed fields for update, empty for delete
    emitted_at: float


@dataclass
class BackendUser:
    """Backend's mirror of one user; `version` and `written` are ground truth, not shown
    to adapters. `written` holds, per field, the stamp of the write that set its value."""

    fields: Fields
    version: int
    written: dict[str, int] = field(default_factory=dict)


@dataclass
class AuthUser:
    fields: Fields
    version: int = 1
    dependents: list[str] = field(default_factory=list)
