"""Config of a real target's two sides: `auth:` and `backend:`, each `kind: http` or `sql`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from monitor.config_types import PositiveDuration, Strict

AUTH_CALLS = ("create", "get", "update", "delete", "list", "transaction")
BACKEND_CALLS = (
    "get_user",
    "count_users",
    "get_dependents",
    "create_dependent",
    "delete_user",
    "outage",
)
REQUIRED = {"auth": ("create", "get", "delete"), "backend": ("get_user",)}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(value: object) -> float:
    """`5/s`, `300/m` → requests per second."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and (m := _RATE.match(value)) and float(m.group(1)) > 0:
        return float(m.group(1)) / _PER[m.group(2)]
    raise ValueError("not a rate (expected e.g. 5/s or 300/m)")


class BasicAuth(Strict):
    username: str
    password: SecretStr


class OAuth2(Strict):
    """Client credentials: the token is cached until it expires and refreshed once on 401."""

    token_url: str = Field(pattern=r"^https?://")
    client_id: str
    client_secret: SecretStr
    scopes: list[str] = Field(default_factory=list)
    client_auth: Literal["basic", "body"] = Field(
        "basic",
        description="how the client authenticates to the token endpoint: HTTP Basic "
        "(RFC 6749's default, client_secret_basic) or form fields (client_secret_post)",
    )


class HttpAuth(Strict):
    """At most one of bearer token, basic, OAuth2 client credentials."""

    bearer_token: SecretStr | None = None
    basic: BasicAuth | None = None
    oauth2: OAuth2 | None = None

    @model_validator(mode="after")
    def _one(self) -> HttpAuth:
        given = [k for k in ("bearer_token", "basic", "oauth2") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of bearer_token, basic, oauth2 (got {', '.join(given)})")
        return self


class TlsConfig(Strict):
    ca_file: str | None = Field(None, description="CA bundle to verify the server with")
    cert_file: str | None = Field(None, description="client certificate (mutual TLS)")
    key_file: str | None = None
    insecure_skip_verify: bool = False


class Operation(Strict):
    """One HTTP call: templated path and JSON body, and where to find results."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(pattern=r"^/", description="templated: /users/{id}")
    body: Any = Field(None, description='JSON template: "{email}", "{fields}", "{fail}" ...')
    headers: dict[str, str] = Field(default_factory=dict)
    success: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])
    not_found: list[int] = Field(default_factory=lambda: [404])
    conflict: list[int] = Field(default_factory=lambda: [409])
    id_from: str | None = Field(None, description="JSONPath of the new id, e.g. $.id")
    ids_from: str | None = Field(None, description="JSONPath of listed ids, e.g. $.users[*].id")
    emails_from: str | None = Field(None, description="JSONPath of listed emails")
    count_from: str | None = Field(None, description="JSONPath of a count, e.g. $.count")
    committed_from: str | None = Field(None, description="JSONPath of a transaction's outcome")


RatePerSecond = Annotated[float, Field(gt=0)]


class HttpSide(Strict):
    """A side reached over HTTP (an identity provider's admin API, a service's own API)."""

    kind: Literal["http"]
    base_url: str = Field(pattern=r"^https?://[^/]+", description="scheme://host[:port][/prefix]")
    auth: HttpAuth = HttpAuth()
    tls: TlsConfig = TlsConfig()
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: PositiveDuration = Field(5.0, description="limit for every request")
    rate_limit: float | None = Field(None, description="requests per second, e.g. 5/s")
    max_connections: int = Field(10, ge=1)
    operations: dict[str, Operation]
    fields: dict[str, str] = Field(
        default_factory=lambda: {"email": "$.email"},
        description="field name → JSONPath in request bodies and responses",
    )

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _rate(cls, value: object) -> object:
        return None if value is None else parse_rate(value)


class SqlSide(Strict):
    """A side read (and for synthetic users written) in its database, with bound queries."""

    kind: Literal["sql"]
    dsn: SecretStr = Field(description="postgresql+asyncpg://... or sqlite+aiosqlite:///...")
    pool_size: int = Field(2, ge=1, le=20)
    statement_timeout: PositiveDuration = 5.0
    queries: dict[str, str] = Field(description="call → SQL with :named parameters")
    fields: list[str] = Field(
        default_factory=lambda: ["email", "display_name"],
        description="columns the get/get_user query returns, by name",
    )


Side = Annotated[HttpSide | SqlSide, Field(discriminator="kind")]


def shared_fields(auth: HttpSide | SqlSide, backend: HttpSide | SqlSide) -> tuple[str, ...]:
    """The fields both sides know, `email` first: the ones probes set and compare."""
    names = [f for f in auth.fields if f in backend.fields and f != "email"]
    return ("email", *names)


def template_values(call: str, fields: tuple[str, ...]) -> tuple[str, ...]:
    """The placeholders an HTTP call can fill: the user's fields (each by name, and all
    of them as `{fields}`) where it sends a user, and what else that call has."""
    user = (*fields, "fields")
    return {
        "create": user,
        "update": (*user, "id"),
        "transaction": (*user, "fail"),
        "list": ("email_suffix", "synthetic_domain"),
        "create_dependent": ("id", "token"),
        "outage": ("active",),
    }.get(call, ("id",))


def template_errors(side: HttpSide | SqlSide, fields: tuple[str, ...]) -> list[tuple[str, str]]:
    """(key, problem) for each path or body placeholder its call has no value for, which
    would otherwise fail on every call."""
    from monitor.targets.templates import placeholders

    if not isinstance(side, HttpSide):
        return []
    errors = []
    for call, op in side.operations.items():
        known = template_values(call, fields)
        for key, template in (("path", op.path), ("body", op.body)):
            for name in sorted(placeholders(template) - set(known)):
                errors.append(
                    (
                        f"operations.{call}.{key}",
                        f"placeholder {{{name}}} has no value in {call} (it has: "
                        f"{', '.join(known)})",
                    )
                )
    return errors


def side_calls(side: HttpSide | SqlSide) -> list[str]:
    return list(side.operations if isinstance(side, HttpSide) else side.queries)


def side_errors(side: HttpSide | SqlSide, which: str) -> list[tuple[str, str]]:
    """(key, problem) pairs: unknown calls and missing required ones."""
    valid = AUTH_CALLS if which == "auth" else BACKEND_CALLS
    key = "operations" if isinstance(side, HttpSide) else "queries"
    calls = side_calls(side)
    errors = [
        (f"{key}.{c}", f"unknown call (valid: {', '.join(valid)})") for c in calls if c not in valid
    ]
    errors += [(key, f"missing required call {c}") for c in REQUIRED[which] if c not in calls]
    if "email" not in side.fields:
        errors.append(("fields", "must map `email` (the synthetic tag lives there)"))
    if isinstance(side, SqlSide):
        errors += _sql_errors(side, which)
    else:
        errors += _http_errors(side)
    return errors


_PATH_KEYS = ("id_from", "ids_from", "emails_from", "count_from", "committed_from")


def _http_errors(side: HttpSide) -> list[tuple[str, str]]:
    """JSONPaths that cannot be read, caught at load time rather than on every call."""
    from monitor.targets.jsonpath import parse

    paths = [(f"fields.{name}", path) for name, path in side.fields.items()]
    for call, op in side.operations.items():
        paths += [(f"operations.{call}.{key}", getattr(op, key)) for key in _PATH_KEYS]
    errors = []
    for key, path in paths:
        if path is None:
            continue
        try:
            parse(path)
        except ValueError as exc:
            errors.append((key, str(exc)))
    return errors


def _sql_errors(side: SqlSide, which: str) -> list[tuple[str, str]]:
    """Queries that would fail on every call, a DSN that is not one, an outage in SQL."""
    from monitor.targets.base import TargetError
    from monitor.targets.sql import query_problems
    from monitor.targets.sql_database import database_url

    errors = query_problems(side)
    if which == "backend" and "outage" in side.queries:
        errors.append(
            ("queries.outage", "an outage cannot be caused through SQL; use an http side")
        )
    try:
        database_url(side.dsn.get_secret_value())
    except TargetError as exc:
        errors.append(("dsn", str(exc).removeprefix("dsn: ")))
    return errors
