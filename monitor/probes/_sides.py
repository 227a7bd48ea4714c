"""The two sides as a probe sees them: every call timed as a step and named in errors."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Protocol, TypeVar

from monitor.targets.base import (
    AlreadyExists,
    AuthSide,
    BackendSide,
    Fields,
    GuardedAuth,
    NotFound,
    TxnOutcome,
)

T = TypeVar("T")


class Caller(Protocol):
    def __call__(
        self, name: str, call: Awaitable[T], expected: tuple[type[Exception], ...] = ...
    ) -> Awaitable[T]: ...


class TimedAuth:
    """Auth calls as `auth.<call>` steps."""

    def __init__(self, side: GuardedAuth | AuthSide, call: Caller) -> None:
        self._side = side
        self._call = call

    async def create(self, fields: Mapping[str, str], *, conflict_ok: bool = False) -> str:
        expected = (AlreadyExists,) if conflict_ok else ()
        return await self._call("auth.create", self._side.create(fields), expected)

    async def get(self, user_id: str) -> Fields | None:
        return await self._call("auth.get", self._side.get(user_id))

    async def update(self, user_id: str, changes: Mapping[str, str]) -> None:
        await self._call("auth.update", self._side.update(user_id, changes))

    async def delete(self, user_id: str) -> None:
        await self._call("auth.delete", self._side.delete(user_id))

    async def transaction(self, fields: Mapping[str, str], *, fail: bool) -> TxnOutcome:
        return await self._call("auth.transaction", self._side.transaction(fields, fail=fail))


class TimedBackend:
    """Backend calls as `backend.<call>` steps."""

    def __init__(self, side: BackendSide, call: Caller) -> None:
        self._side = side
        self._call = call

    async def get_user(self, user_id: str) -> Fields | None:
        return await self._call("backend.get_user", self._side.get_user(user_id))

    async def count_users(self, user_id: str) -> int:
        return await self._call("backend.count_users", self._side.count_users(user_id))

    async def get_dependents(self, user_id: str) -> int:
        return await self._call("backend.get_dependents", self._side.get_dependents(user_id))

    async def create_dependent(self, user_id: str, token: str) -> None:
        await self._call("backend.create_dependent", self._side.create_dependent(user_id, token))

    async def outage(self, active: bool) -> None:
        await self._call("backend.outage", self._side.outage(active))

    async def delete_user(self, user_id: str) -> None:
        await self._call("backend.delete_user", self._side.delete_user(user_id), (NotFound,))
