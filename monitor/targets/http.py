"""The configurable REST adapter: an Auth side and a Backend side over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.config_sides import HttpSide, Operation
from monitor.targets.base import Fields, NotFound, TargetError, TxnOutcome
from monitor.targets.http_client import Answer, HttpClient
from monitor.targets.jsonpath import assign, find_all, find_one


class HttpSideBase:
    """What both HTTP sides share: the client, the operations, the field mapping."""

    def __init__(self, side: HttpSide, *, fields: tuple[str, ...]) -> None:
        self._side = side
        self._client = HttpClient(side)
        self.calls = frozenset(side.operations)
        self.fields = fields

    def _op(self, call: str) -> Operation:
        op = self._side.operations.get(call)
        if op is None:
            raise TargetError(f"no `{call}` operation configured")
        return op

    async def _call(self, call: str, values: Mapping[str, Any]) -> Answer | None:
        return await self._client.call(self._op(call), values)

    def values(self, fields: Mapping[str, str], **extra: Any) -> dict[str, Any]:
        """Template values: each field by name, `fields` as the nested object, and extras."""
        nested: dict[str, Any] = {}
        for name, value in fields.items():
            if name in self._side.fields:
                assign(nested, self._side.fields[name], value)
        return {**dict.fromkeys(self.fields), **fields, "fields": nested, **extra}

    def record(self, body: Any) -> Fields:
        """The mapped fields of a JSON answer, as strings."""
        out = {}
        for name, path in self._side.fields.items():
            value = find_one(body, path)
            if value is not None:
                out[name] = value if isinstance(value, str) else str(value)
        return out

    def _extract(self, call: str, answer: Answer | None, path: str | None) -> Any:
        if answer is None:
            raise NotFound(f"{call}: not found")
        if path is None:
            raise TargetError(f"operation {call} needs a JSONPath for its result")
        value = find_one(answer.body, path)
        if value is None:
            raise TargetError(f"the answer to {call} has nothing at {path}")
        return value

    async def close(self) -> None:
        await self._client.close()


class HttpAuthSide(HttpSideBase):
    """Auth over HTTP: create, get, update, delete, list, transaction as configured."""

    async def create(self, fields: Mapping[str, str]) -> str:
        answer = await self._call("create", self.values(fields))
        return str(self._extract("create", answer, self._op("create").id_from))

    async def get(self, user_id: str) -> Fields | None:
        answer = await self._call("get", {"id": user_id})
        return None if answer is None else self.record(answer.body)

    async def update(self, user_id: str, changes: Mapping[str, str]) -> None:
        if await self._call("update", self.values(changes, id=user_id)) is None:
            raise NotFound(f"update: user {user_id} not found")

    async def delete(self, user_id: str) -> None:
        if await self._call("delete", {"id": user_id}) is None:
            raise NotFound(f"delete: user {user_id} not found")

    async def list(self, email_suffix: str) -> list[tuple[str, str]]:
        op = self._op("list")
        answer = await self._call(
            "list", {"email_suffix": email_suffix, "synthetic_domain": email_suffix.lstrip("@")}
        )
        if answer is None or not op.ids_from or not op.emails_from:
            raise TargetError("operation list needs ids_from and emails_from")
        ids = find_all(answer.body, op.ids_from)
        emails = find_all(answer.body, op.emails_from)
        if len(ids) != len(emails):  # a record missing one of them would shift every pair
            raise TargetError(
                f"the answer to list has {len(ids)} ids at {op.ids_from} but {len(emails)} "
                f"emails at {op.emails_from}; cannot pair them"
            )
        return [(str(i), str(e)) for i, e in zip(ids, emails, strict=True)]

    async def transaction(self, fields: Mapping[str, str], *, fail: bool) -> TxnOutcome:
        op = self._op("transaction")
        answer = await self._call("transaction", self.values(fields, fail=fail))
        user_id = self._extract("transaction", answer, op.id_from)
        committed = self._extract("transaction", answer, op.committed_from)
        return TxnOutcome(str(user_id), bool(committed))


class HttpBackendSide(HttpSideBase):
    """Backend over HTTP: get_user, count_users, get_dependents, create_dependent, ..."""

    async def get_user(self, user_id: str) -> Fields | None:
        answer = await self._call("get_user", {"id": user_id})
        return None if answer is None else self.record(answer.body)

    async def count_users(self, user_id: str) -> int:
        return await self._count("count_users", user_id)

    async def get_dependents(self, user_id: str) -> int:
        return await self._count("get_dependents", user_id)

    async def _count(self, call: str, user_id: str) -> int:
        answer = await self._call(call, {"id": user_id})
        if answer is None:
            return 0
        value = self._extract(call, answer, self._op(call).count_from)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise TargetError(f"the answer to {call} is not a count: {value!r}") from None

    async def create_dependent(self, user_id: str, token: str) -> None:
        if await self._call("create_dependent", {"id": user_id, "token": token}) is None:
            raise NotFound(f"create_dependent: user {user_id} not found")

    async def delete_user(self, user_id: str) -> None:
        await self._call("delete_user", {"id": user_id})

    async def outage(self, active: bool) -> None:
        await self._call("outage", {"active": active})
