"""The simulated Auth service: the identity store, emitting a change event per write."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable

from monitor.sim.faults import FaultDice
from monitor.sim.model import (
    AuthUser,
    BadRequest,
    ConflictError,
    Event,
    Fields,
    NotFoundError,
    ServerError,
)
from monitor.sim.truth import GroundTruth


class SimAuth:
    """Answers each call after `auth_latency` (± jitter); `auth_errors` makes it answer 500.

    `deleting(user_id)` is called as a delete is accepted, before the user is gone.
    """

    def __init__(
        self,
        *,
        latency: float,
        jitter: float,
        dice: FaultDice,
        truth: GroundTruth,
        rng: random.Random,
        emit: Callable[[Event], None],
        deleting: Callable[[str], None] = lambda user_id: None,
    ) -> None:
        self.users: dict[str, AuthUser] = {}
        self._latency = latency
        self._jitter = jitter
        self._dice = dice
        self._truth = truth
        self._rng = rng
        self._emit = emit
        self._deleting = deleting
        self._seq = itertools.count(1)

    async def answer(self, call: str, user_id: str | None = None) -> None:
        """Wait out the latency; fail with a server error when `auth_errors` fires."""
        await asyncio.sleep(self._dice.jitter(self._latency, self._jitter))
        if self._dice.fires("auth_errors"):
            self._truth.fired("auth_errors", user_id, call, asyncio.get_running_loop().time())
            raise ServerError(f"internal server error during {call}")

    def publish(self, op: str, user_id: str, fields: Fields) -> None:
        version = self.users[user_id].version if user_id in self.users else 0
        now = asyncio.get_running_loop().time()
        self._emit(Event(next(self._seq), op, user_id, version, dict(fields), now))

    def new_user(self, fields: Fields) -> str:
        email = fields.get("email", "")
        if not email:
            raise BadRequest("email is required")
        if any(u.fields["email"] == email for u in self.users.values()):
            raise ConflictError(f"a user with email {email} exists")
        user_id = f"u-{self._rng.getrandbits(48):012x}"
        self.users[user_id] = AuthUser(dict(fields))
        return user_id

    async def create(self, fields: Fields) -> str:
        await self.answer("create")
        user_id = self.new_user(fields)
        self.publish("create", user_id, self.users[user_id].fields)
        return user_id

    async def get(self, user_id: str) -> Fields | None:
        await self.answer("get", user_id)
        user = self.users.get(user_id)
        return dict(user.fields) if user else None

    async def update(self, user_id: str, changes: Fields) -> None:
        await self.answer("update", user_id)
        user = self._existing(user_id)
        if "email" in changes:
            raise BadRequest("email cannot be changed")
        user.fields.update(changes)
        user.version += 1
        self.publish("update", user_id, changes)

    async def delete(self, user_id: str) -> None:
        await self.answer("delete", user_id)
        self._existing(user_id)
        self._deleting(user_id)
        self.publish("delete", user_id, {})
        del self.users[user_id]

    async def list(self, email_suffix: str) -> list[tuple[str, str]]:
        await self.answer("list")
        return [
            (uid, u.fields["email"])
            for uid, u in self.users.items()
            if u.fields["email"].endswith(email_suffix)
        ]

    def _existing(self, user_id: str) -> AuthUser:
        if user_id not in self.users:
            raise NotFoundError(f"no user {user_id}")
        return self.users[user_id]
