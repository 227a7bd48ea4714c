"""What probes see of a target: the two sides' calls, their errors, and the synthetic guard."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from monitor.clock import Clock
from monitor.ledger import Ledger
from monitor.rwlock import SharedExclusiveLock

Fields = dict[str, str]

AUTH_CALLS = frozenset({"create", "get", "update", "delete", "list", "transaction"})
BACKEND_CALLS = frozenset(
    {"get_user", "count_users", "get_dependents", "create_dependent", "delete_user", "outage"}
)


class TargetError(Exception):
    """An adapter call failed; the message is for users (no secrets, names the cause)."""


class NotFound(TargetError):
    """The record does not exist."""


class AlreadyExists(TargetError):
    """Auth rejected a create because the user exists."""


class Throttled(TargetError):
    """The side refused the call for now (rate limit); not a failure of the system."""


class UntaggedRecord(TargetError):
    """The monitor refuses to touch a record that is not synthetic."""


@dataclass(frozen=True)
class TxnOutcome:
    """What a cross-service transaction did: the user id it used, and whether it committed."""

    user_id: str
    committed: bool


class AuthSide(Protocol):
    """The identity store. `calls` lists what this side can do."""

    calls: frozenset[str]

    async def create(self, fields: Mapping[str, str]) -> str: ...
    async def get(self, user_id: str) -> Fields | None: ...
    async def update(self, user_id: str, changes: Mapping[str, str]) -> None: ...
    async def delete(self, user_id: str) -> None: ...
    async def list(self, email_suffix: str) -> list[tuple[str, str]]: ...
    async def transaction(self, fields: Mapping[str, str], *, fail: bool) -> TxnOutcome: ...
    async def close(self) -> None: ...


class BackendSide(Protocol):
    """The mirror of Auth's users and their dependents."""

    calls: frozenset[str]
    fields: tuple[str, ...]

    async def get_user(self, user_id: str) -> Fields | None: ...
    async def count_users(self, user_id: str) -> int: ...
    async def get_dependents(self, user_id: str) -> int: ...
    async def create_dependent(self, user_id: str, token: str) -> None: ...
    async def delete_user(self, user_id: str) -> None: ...
    async def outage(self, active: bool) -> None: ...
    async def close(self) -> None: ...


def synthetic_pattern(domain: str) -> re.Pattern[str]:
    return re.compile(rf"^probe-(\d+)-[0-9a-z]+@{re.escape(domain)}$")


def synthetic_email(domain: str, now: float, rng: random.Random) -> str:
    """`probe-<unix seconds>-<random>@<domain>`: whose it is and how old, readable from the tag."""
    return f"probe-{int(now)}-{rng.getrandbits(40):010x}@{domain}"


class GuardedAuth:
    """Wraps an Auth side: ledgers every create, refuses to touch untagged users."""

    def __init__(self, inner: AuthSide, *, target: str, domain: str, ledger: Ledger) -> None:
        self.inner = inner
        self.calls = inner.calls
        self._target = target
        self._pattern = synthetic_pattern(domain)
        self._ledger = ledger
        self._known: dict[str, str] = {}

    def is_synthetic(self, email: str) -> bool:
        return bool(self._pattern.match(email))

    async def create(self, fields: Mapping[str, str]) -> str:
        email = self._require_tag(fields)
        entry = self._ledger.add(self._target, email)
        try:
            user_id = await self.inner.create(fields)
        except AlreadyExists:
            self._ledger.forget(entry)  # this call created nothing; other failures may have
            raise
        self._remember(entry, user_id, email)
        return user_id

    async def transaction(self, fields: Mapping[str, str], *, fail: bool) -> TxnOutcome:
        email = self._require_tag(fields)
        entry = self._ledger.add(self._target, email)
        try:
            outcome = await self.inner.transaction(fields, fail=fail)
        except AlreadyExists:
            self._ledger.forget(entry)
            raise
        self._remember(entry, outcome.user_id, email)
        return outcome

    async def get(self, user_id: str) -> Fields | None:
        return await self.inner.get(user_id)

    async def update(self, user_id: str, changes: Mapping[str, str]) -> None:
        await self._check(user_id, "update")
        await self.inner.update(user_id, changes)

    async def delete(self, user_id: str) -> None:
        await self._check(user_id, "delete")
        await self.inner.delete(user_id)
        self._known.pop(user_id, None)
        self._ledger.remove(self._target, user_id)

    async def list(self, email_suffix: str) -> list[tuple[str, str]]:
        found = await self.inner.list(email_suffix)
        return [(uid, email) for uid, email in found if self.is_synthetic(email)]

    async def close(self) -> None:
        await self.inner.close()

    def _require_tag(self, fields: Mapping[str, str]) -> str:
        email = fields.get("email", "")
        if not self.is_synthetic(email):
            raise UntaggedRecord("refusing to create a user whose email is not synthetic")
        return email

    def _remember(self, entry: int, user_id: str, email: str) -> None:
        self._known[user_id] = email
        self._ledger.set_id(entry, user_id)

    async def _check(self, user_id: str, call: str) -> None:
        if user_id in self._known:
            return
        record = await self.inner.get(user_id)
        if record is None:
            raise NotFound(f"no user {user_id}")
        if not self.is_synthetic(record.get("email", "")):
            raise UntaggedRecord(
                f"refusing to {call} user {user_id}: its email is not under the synthetic domain"
            )
        self._known[user_id] = record["email"]


@dataclass
class Target:
    """A named Auth side plus Backend side, with what probes need to use them safely."""

    name: str
    auth: GuardedAuth
    backend: BackendSide
    clock: Clock
    rng: random.Random
    domain: str
    max_concurrency: int = 4
    on_cleanup: Callable[[list[str]], None] = lambda ids: None
    lock: SharedExclusiveLock = field(default_factory=SharedExclusiveLock)
    state: dict[str, object] = field(default_factory=dict)  # per-target memory of helpers
    cleanups: set[asyncio.Task[None]] = field(default_factory=set)  # shielded, awaited at exit

    @property
    def calls(self) -> frozenset[str]:
        """Every call this target can make, as `side.call`."""
        return frozenset(
            {f"auth.{c}" for c in self.auth.calls} | {f"backend.{c}" for c in self.backend.calls}
        )

    def new_email(self) -> str:
        return synthetic_email(self.domain, self.clock.wall(), self.rng)

    async def drain_cleanups(self) -> None:
        """Wait for cleanups still running after their run was cancelled."""
        if self.cleanups:
            await asyncio.gather(*self.cleanups, return_exceptions=True)

    async def close(self) -> None:
        await self.drain_cleanups()
        await self.auth.close()
        await self.backend.close()


def missing_calls(target: Target, needs: Iterable[str]) -> list[str]:
    """The calls a probe needs that the target cannot make."""
    return sorted(set(needs) - target.calls)
