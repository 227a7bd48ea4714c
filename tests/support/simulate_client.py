"""A client of `consistency-monitor simulate` for tests: both services' URLs, one
session, and the calls tests make (users, faults set live, ground truth)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from support.waiting import eventually

TOKEN = "test-admin-token"
PROFILE = {"locale": "de", "timezone": "Europe/Berlin", "plan": "pro", "city": "", "theme": "dark"}

T = TypeVar("T")


async def soon(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str) -> T:
    """`eventually`, polled often: the simulator here answers within milliseconds."""
    return await eventually(probe, ok, within=5.0, every=0.005, what=what)


@dataclass
class Sim:
    """Both services' base URLs and one client session."""

    auth: str
    backend: str
    http: aiohttp.ClientSession
    token: str | None = TOKEN

    async def call(
        self, method: str, url: str, body: Any = None, *, token: str | None = None, raw: str = ""
    ) -> tuple[int, Any]:
        """Status and JSON body (None when empty); the admin token unless another is given."""
        headers = {"Authorization": f"Bearer {token or self.token}"} if self.token else {}
        data = {"data": raw} if raw else {"json": body}
        async with self.http.request(method, url, headers=headers, **data) as response:
            text = await response.text()
            ok_json = response.content_type == "application/json"
            return response.status, (await response.json()) if ok_json and text else None

    async def create(self, email: str = "ann@example.test", **extra: Any) -> dict[str, Any]:
        body = {"email": email, "display_name": "Ann", "profile": PROFILE, **extra}
        status, user = await self.call("POST", f"{self.auth}/admin/users", body)
        assert status == 201, user
        return dict(user)

    async def backend_user(self, user_id: str) -> tuple[int, Any]:
        return await self.call("GET", f"{self.backend}/users/{user_id}")

    async def set_faults(self, faults: dict[str, Any]) -> None:
        status, body = await self.call("PUT", f"{self.auth}/admin/faults", faults)
        assert status == 200, body

    async def truth(self, since_seq: int | None = None) -> dict[str, Any]:
        query = f"?since_seq={since_seq}" if since_seq is not None else ""
        status, body = await self.call("GET", f"{self.auth}/admin/truth{query}")
        assert status == 200, body
        return dict(body)

    async def faults_fired(self, fault: str) -> list[dict[str, Any]]:
        return [f for f in (await self.truth())["faults"] if f["fault"] == fault]

    async def synced(self, user_id: str) -> dict[str, Any]:
        """The user as Backend shows it, once it is there."""
        got = await soon(lambda: self.backend_user(user_id), lambda r: r[0] == 200, "synced")
        return dict(got[1])

    async def gone(self, user_id: str) -> None:
        await soon(lambda: self.backend_user(user_id), lambda r: r[0] == 404, "gone")


async def output_line(proc: asyncio.subprocess.Process) -> str:
    """The next line `simulate` prints; AssertionError with its stderr when it exited."""
    assert proc.stdout is not None and proc.stderr is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    if not line:
        raise AssertionError(f"simulate exited: {(await proc.stderr.read()).decode()}")
    return line.decode()
