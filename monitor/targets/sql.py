"""The SQL adapter: an Auth side or a Backend side read (and, for synthetic users,
written) in a database through the configured queries (PostgreSQL or SQLite).

Each query gets the parameters of its call, always bound (see `sql_database`):

    auth:     create       :email, :display_name, ... (one per field)   → RETURNING id
              get          :id                        → one row with the fields' columns
              update       :id and every field, NULL for those unchanged, so write
                           `SET display_name = COALESCE(:display_name, display_name), ...`
              delete       :id
              list         :email_suffix              → rows with columns id, email
              transaction  like create; committed, or rolled back when told to fail
    backend:  get_user :id → row · count_users :id → count · get_dependents :id → count
              create_dependent :id, :token · delete_user :id

A field is returned by its own name (alias a column: `city AS "profile.city"`) and bound
as a word (`:profile_city`). Ids travel as text: cast where the column is not,
`WHERE id = CAST(:id AS bigint)`. The Backend side touches a user (create_dependent,
delete_user) only after reading that its email carries the synthetic tag; the Auth side
is guarded by `GuardedAuth`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Result, RowMapping

from monitor.config_sides import SqlSide
from monitor.targets.base import (
    Fields,
    NotFound,
    TargetError,
    TxnOutcome,
    UntaggedRecord,
    synthetic_pattern,
)
from monitor.targets.sql_database import Database, parameters

BINDS = {
    "create": (),
    "transaction": (),
    "list": ("email_suffix",),
    "create_dependent": ("id", "token"),
}  # the rest bind `:id`
WITH_FIELDS = frozenset({"create", "transaction", "update"})
_POSTGRES_CAST = re.compile(r"(?<![:\w]):(\w+)::(\w+)")


def param_name(field: str) -> str:
    """`profile.city` is bound as `:profile_city`: a bound name is a word."""
    return re.sub(r"\W", "_", field)


def provided(call: str, fields: Sequence[str]) -> frozenset[str]:
    """The parameters the adapter binds for `call` (most bind just `:id`)."""
    own = frozenset(BINDS.get(call, ("id",)))
    return own | {param_name(f) for f in fields} if call in WITH_FIELDS else own


def query_problems(side: SqlSide) -> list[tuple[str, str]]:
    """(key, problem) pairs for queries that would fail on every call."""
    problems = [
        (call, _query_problem(call, sql, side.fields)) for call, sql in side.queries.items()
    ]
    return [(f"queries.{call}", problem) for call, problem in problems if problem]


def _query_problem(call: str, sql: str, fields: Sequence[str]) -> str | None:
    """A `:name::type` cast (SQLAlchemy does not read it as a parameter), or a parameter
    the call does not bind."""
    if cast := _POSTGRES_CAST.search(sql):
        name, to = cast.groups()
        return f"write CAST(:{name} AS {to}); :{name}::{to} is not read as a parameter"
    if unknown := sorted(parameters(sql) - provided(call, fields)):
        given = ", ".join(f":{p}" for p in sorted(provided(call, fields)))
        return f"uses {', '.join(f':{p}' for p in unknown)}; {call} binds only {given}"
    return None


def _first(result: Result[Any]) -> RowMapping | None:
    return result.mappings().first()


def _rows(result: Result[Any]) -> Sequence[RowMapping]:
    return result.mappings().all()


def _scalar(result: Result[Any]) -> Any:
    return result.scalar()


def _rowcount(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", -1))


class SqlSideBase:
    """What both SQL sides share: the database, the fields, turning rows into records."""

    def __init__(self, side: SqlSide) -> None:
        self._db = Database(side)
        self._columns = tuple(side.fields)

    def record(self, call: str, row: RowMapping) -> Fields:
        """The fields' values as text; NULL leaves a field out."""
        if missing := [f for f in self._columns if f not in row]:
            returned = ", ".join(str(k) for k in row) or "nothing"
            raise TargetError(
                f"query {call} returns no column {', '.join(missing)} (it returns {returned})"
            )
        return {f: _text(row[f]) for f in self._columns if row[f] is not None}

    def field_params(self, fields: Mapping[str, str]) -> dict[str, str | None]:
        """Every field as a parameter; those not given are NULL."""
        return {param_name(f): fields.get(f) for f in self._columns}

    async def close(self) -> None:
        await self._db.close()


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


class SqlAuthSide(SqlSideBase):
    """Auth in a database: create, get, update, delete, list, transaction as configured."""

    def __init__(self, side: SqlSide) -> None:
        super().__init__(side)
        self.calls = frozenset(side.queries)

    async def create(self, fields: Mapping[str, str]) -> str:
        return await self._insert("create", fields, commit=None)

    async def get(self, user_id: str) -> Fields | None:
        row = await self._db.run("get", {"id": user_id}, _first)
        return None if row is None else self.record("get", row)

    async def update(self, user_id: str, changes: Mapping[str, str]) -> None:
        params = {**self.field_params(changes), "id": user_id}
        if await self._db.run("update", params, _rowcount) == 0:
            raise NotFound(f"no user {user_id}")

    async def delete(self, user_id: str) -> None:
        if await self._db.run("delete", {"id": user_id}, _rowcount) == 0:
            raise NotFound(f"no user {user_id}")

    async def list(self, email_suffix: str) -> list[tuple[str, str]]:
        rows = await self._db.run("list", {"email_suffix": email_suffix}, _rows)
        if rows and not {"id", "email"} <= set(rows[0].keys()):
            raise TargetError("query list must return columns id and email")
        return [(_text(r["id"]), _text(r["email"])) for r in rows]

    async def transaction(self, fields: Mapping[str, str], *, fail: bool) -> TxnOutcome:
        """The `transaction` query in a transaction of its own; told to fail, it is rolled
        back after the write, which must then never reach Backend."""
        user_id = await self._insert("transaction", fields, commit=not fail)
        return TxnOutcome(user_id, committed=not fail)

    async def _insert(self, call: str, fields: Mapping[str, str], *, commit: bool | None) -> str:
        user_id = await self._db.run(call, self.field_params(fields), _scalar, commit=commit)
        if user_id is None:
            raise TargetError(f"query {call} returned no id (end it with RETURNING id)")
        return _text(user_id)


class SqlBackendSide(SqlSideBase):
    """Backend in a database: get_user, count_users, get_dependents, create_dependent,
    delete_user. An outage cannot be caused through SQL."""

    def __init__(self, side: SqlSide, *, domain: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(side)
        self.calls = frozenset(side.queries) - {"outage"}
        self.fields = fields or self._columns
        self._pattern = synthetic_pattern(domain)

    async def get_user(self, user_id: str) -> Fields | None:
        row = await self._db.run("get_user", {"id": user_id}, _first)
        return None if row is None else self.record("get_user", row)

    async def count_users(self, user_id: str) -> int:
        return await self._count("count_users", user_id)

    async def get_dependents(self, user_id: str) -> int:
        return await self._count("get_dependents", user_id)

    async def create_dependent(self, user_id: str, token: str) -> None:
        await self._require_synthetic(user_id, "add a dependent to")
        await self._db.run("create_dependent", {"id": user_id, "token": token}, _rowcount)

    async def delete_user(self, user_id: str) -> None:
        await self._require_synthetic(user_id, "delete")
        await self._db.run("delete_user", {"id": user_id}, _rowcount)

    async def outage(self, active: bool) -> None:
        raise TargetError("a SQL backend cannot cause an outage")

    async def _count(self, call: str, user_id: str) -> int:
        value = await self._db.run(call, {"id": user_id}, _scalar)
        try:
            return int(value or 0)
        except (TypeError, ValueError):
            raise TargetError(f"query {call} returned {value!r}, not a count") from None

    async def _require_synthetic(self, user_id: str, action: str) -> None:
        """Read the user's email first: only tagged users are written to."""
        if "email" not in self._columns:
            raise UntaggedRecord(
                f"refusing to {action} user {user_id}: get_user does not return email, "
                "so its synthetic tag cannot be checked"
            )
        record = await self.get_user(user_id)
        if record is None:
            raise NotFound(f"no user {user_id} in backend")
        if not self._pattern.match(record.get("email", "")):
            raise UntaggedRecord(
                f"refusing to {action} user {user_id}: its email is not under the synthetic domain"
            )
