"""The simulator's admin endpoints: faults changed live, and ground truth for scoring.

They sit behind a bearer token. Without one they answer 404: disabled, never open.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ValidationError

from monitor.config import FaultsConfig
from monitor.config_errors import validation_messages
from monitor.sim.model import BadRequest
from monitor.sim.wire import WORLD, body_of, change_json, error, fault_json, json_object

log = logging.getLogger("monitor.sim.admin")

ADMIN_TOKEN: web.AppKey[str | None] = web.AppKey("admin_token")

Handler = Callable[[web.Request], Awaitable[web.Response]]


def admin_only(handler: Handler) -> Handler:
    """404 when no token is configured; 401 when the request's bearer token is wrong."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.Response:
        token = request.app[ADMIN_TOKEN]
        if token is None:
            return error(404, "admin endpoints are disabled: no admin token configured")
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = error(401, "missing or wrong admin token")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return await handler(request)

    return guarded


@admin_only
async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[WORLD].dice.config.model_dump())


@admin_only
async def put_faults(request: web.Request) -> web.Response:
    """Replace the fault probabilities; faults left out are off, as in the config file."""
    body = json_object(await body_of(request))
    try:
        faults = FaultsConfig.model_validate(body)
    except ValidationError as exc:
        problems = validation_messages(exc, body, FaultsConfig)
        return error(400, "; ".join(problems), errors=problems)
    request.app[WORLD].dice.config = faults
    log.info("faults now: %s", _active(faults) or "none")
    return web.json_response(faults.model_dump())


def _active(faults: FaultsConfig) -> str:
    """`drop_sync.update=0.3, skip_cascade=1` (the faults that can fire), for the log."""
    flat: dict[str, float] = {}
    for name, value in faults.model_dump().items():
        subs = value.items() if isinstance(value, dict) else [("", value)]
        flat |= {f"{name}.{op}" if op else name: p for op, p in subs if p}
    return ", ".join(f"{name}={p:g}" for name, p in flat.items())


@admin_only
async def get_truth(request: web.Request) -> web.Response:
    """Changes after `?since_seq=` with when they became visible, every fault that fired,
    and the simulator's clock (the event loop's, i.e. `time.monotonic()`)."""
    since = _since_seq(request.query.get("since_seq", "0"))
    truth = request.app[WORLD].truth
    return web.json_response(
        {
            "changes": [change_json(s, c) for s, c in truth.changes.items() if s > since],
            "faults": [fault_json(record) for record in truth.faults],
            "clock": asyncio.get_running_loop().time(),
        }
    )


def _since_seq(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadRequest("since_seq: expected a whole number") from None


@admin_only
async def clear_truth(request: web.Request) -> web.Response:
    request.app[WORLD].truth.clear()
    return web.Response(status=204)


def add_admin_routes(app: web.Application) -> None:
    """`/admin/faults` and `/admin/truth` on the Auth app (whose `WORLD` they read)."""
    app.router.add_get("/admin/faults", get_faults)
    app.router.add_put("/admin/faults", put_faults)
    app.router.add_get("/admin/truth", get_truth)
    app.router.add_post("/admin/truth/clear", clear_truth)
