"""The aiohttp application: metrics, health, status API and page, and the admin reload."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from monitor.recorder import Recorded
from monitor.statuspage import render_detail, render_status

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReloadOutcome(Protocol):
    ok: bool

    def as_dict(self) -> dict[str, Any]: ...


class AppState(Protocol):
    """What the web layer needs from the daemon."""

    registry: CollectorRegistry

    @property
    def ready(self) -> bool: ...
    @property
    def responsive(self) -> bool: ...
    def admin_token(self) -> str | None: ...
    def status(self) -> dict[str, Any]: ...
    def find_result(self, seq: int) -> Recorded | None: ...
    async def reload(self) -> ReloadOutcome: ...


STATE_KEY = web.AppKey("state", AppState)  # type: ignore[type-abstract]


def state_of(request: web.Request) -> AppState:
    return request.app[STATE_KEY]


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format, or OpenMetrics when the scraper asks; rendered off the loop."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    registry = state_of(request).registry
    body = await asyncio.get_running_loop().run_in_executor(None, encoder, registry)
    return web.Response(body=body, headers={"Content-Type": content_type})


async def healthz(request: web.Request) -> web.Response:
    if state_of(request).responsive:
        return web.Response(text="ok\n")
    return web.Response(status=503, text="event loop lagging\n")


async def readyz(request: web.Request) -> web.Response:
    if state_of(request).ready:
        return web.Response(text="ready\n")
    return web.Response(status=503, text="not ready\n")


async def api_status(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).status())


async def status_page(request: web.Request) -> web.Response:
    html = render_status(state_of(request).status())
    return web.Response(text=html, content_type="text/html")


def _recorded(request: web.Request) -> Recorded:
    try:
        seq = int(request.match_info["seq"])
    except ValueError:
        raise web.HTTPNotFound(text="no such result\n") from None
    found = state_of(request).find_result(seq)
    if found is None:
        raise web.HTTPNotFound(text="no such result (it may have left the history)\n")
    return found


async def result_page(request: web.Request) -> web.Response:
    return web.Response(text=render_detail(_recorded(request)), content_type="text/html")


async def api_result(request: web.Request) -> web.Response:
    from monitor.results import result_to_dict

    recorded = _recorded(request)
    return web.json_response({"seq": recorded.seq, **result_to_dict(recorded.result)})


def check_admin(request: web.Request) -> None:
    """404 when no admin token is configured (disabled, never open); 401 when it is wrong."""
    token = state_of(request).admin_token()
    if token is None:
        raise web.HTTPNotFound(text="admin endpoints are disabled: no admin token configured\n")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise web.HTTPUnauthorized(
            text="missing or wrong admin token\n", headers={"WWW-Authenticate": "Bearer"}
        )


async def reload(request: web.Request) -> web.Response:
    check_admin(request)
    outcome = await state_of(request).reload()
    return web.json_response(outcome.as_dict(), status=200 if outcome.ok else 400)


def make_app(state: AppState) -> web.Application:
    """The application; the daemon owns its lifecycle (AppRunner/TCPSite)."""
    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/api/results/{seq}", api_result)
    app.router.add_get("/results/{seq}", result_page)
    app.router.add_get("/", status_page)
    app.router.add_post("/-/reload", reload)
    return app
