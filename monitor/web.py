"""The aiohttp application: metrics, health, status API and page, and the admin reload."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol

from aiohttp import web

from monitor.alerts.silences import SilenceStore, silence_to_dict
from monitor.durations import parse_duration
from monitor.exposition import Registry
from monitor.recorder import Recorded
from monitor.scrape import compression, negotiate, paced
from monitor.status import json_object
from monitor.statuspage import STRIP, render_detail
from monitor.statuspage import status_page as status_page_pieces

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReloadOutcome(Protocol):
    ok: bool

    def as_dict(self) -> dict[str, Any]: ...


class AppState(Protocol):
    """What the web layer needs from the daemon."""

    registry: Registry

    @property
    def ready(self) -> bool: ...
    @property
    def responsive(self) -> bool: ...
    def admin_token(self) -> str | None: ...
    def status_head(self) -> dict[str, Any]: ...
    def status_jobs(self) -> list[tuple[str, str]]: ...
    def job_status(
        self, target: str, probe: str, history: int | None, *, detail: bool = True
    ) -> dict[str, Any]: ...
    def job_status_json(self, target: str, probe: str, history: int | None) -> Iterator[str]: ...
    def find_result(self, seq: int) -> Recorded | None: ...
    async def reload(self) -> ReloadOutcome: ...
    @property
    def silences(self) -> SilenceStore: ...
    def alert_list(self) -> list[dict[str, Any]]: ...


STATE_KEY = web.AppKey("state", AppState)


def state_of(request: web.Request) -> AppState:
    return request.app[STATE_KEY]


async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text format, or OpenMetrics when the scraper asks; gzip when accepted.
    Streamed as it renders, in pieces, on the loop (a thread would hold the GIL as long)."""
    answer = negotiate(request.headers)
    pieces = state_of(request).registry.pieces(openmetrics=answer.openmetrics)
    return await _send(request, pieces, answer.headers, answer.gzip_level)


async def healthz(request: web.Request) -> web.Response:
    if state_of(request).responsive:
        return web.Response(text="ok\n")
    return web.Response(status=503, text="event loop lagging\n")


async def readyz(request: web.Request) -> web.Response:
    if state_of(request).ready:
        return web.Response(text="ready\n")
    return web.Response(status=503, text="not ready\n")


async def api_status(request: web.Request) -> web.StreamResponse:
    """`?history=N` limits the recent results per job (default: all kept). At 1000 jobs
    with 100 results each the document is ~80 MB: it is made and sent a job's result at a
    time, so neither the event loop nor memory holds it all at once."""
    raw = request.query.get("history")
    if raw is not None and not raw.isdigit():
        raise web.HTTPBadRequest(text="history: expected a whole number\n")
    history, state = int(raw) if raw else None, state_of(request)
    jobs = (state.job_status_json(t, p, history) for t, p in state.status_jobs())
    pieces = json_object(state.status_head(), "jobs", jobs)
    return await _stream(request, pieces, "application/json")


async def status_page(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    keys = state.status_jobs()
    jobs = (state.job_status(t, p, STRIP, detail=False) for t, p in keys)
    return await _stream(
        request, status_page_pieces(state.status_head(), jobs, len(keys)), "text/html"
    )


async def _stream(
    request: web.Request, pieces: Iterable[str], content_type: str
) -> web.StreamResponse:
    """A large body made while it is sent, gzip-compressed when the client accepts it."""
    level, encoding = compression(request.headers)
    headers = {"Content-Type": f"{content_type}; charset=utf-8", **encoding}
    return await _send(request, pieces, headers, level)


async def _send(
    request: web.Request, pieces: Iterable[str], headers: dict[str, str], gzip_level: int | None
) -> web.StreamResponse:
    """The body in paced chunks, each written as soon as it is made."""
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    async for chunk in paced(pieces, gzip_level=gzip_level):
        await response.write(chunk)
    await response.write_eof()
    return response


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


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other scheme."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def check_admin(request: web.Request) -> None:
    """404 when no admin token is configured (disabled, never open); 401 when it is wrong."""
    token = state_of(request).admin_token()
    if token is None:
        raise web.HTTPNotFound(text="admin endpoints are disabled: no admin token configured\n")
    given = bearer_token(request)
    if given is None or not hmac.compare_digest(given.encode(), token.encode()):
        raise web.HTTPUnauthorized(
            text="missing or wrong admin token\n", headers={"WWW-Authenticate": "Bearer"}
        )


async def reload(request: web.Request) -> web.Response:
    check_admin(request)
    outcome = await state_of(request).reload()
    return web.json_response(outcome.as_dict(), status=200 if outcome.ok else 400)


async def api_alerts(request: web.Request) -> web.Response:
    return web.json_response({"alerts": state_of(request).alert_list()})


async def list_silences(request: web.Request) -> web.Response:
    silences = state_of(request).silences.active(time.time())
    return web.json_response({"silences": [silence_to_dict(s) for s in silences]})


def _silence_request(data: object) -> tuple[dict[str, str], float | None, str]:
    """Validate `{"matchers": {...}, "ends_at": unix|null, "duration": "1h", "comment": ""}`."""
    if not isinstance(data, dict):
        raise ValueError("body: expected a JSON object")
    matchers = data.get("matchers")
    if (
        not isinstance(matchers, dict)
        or not matchers
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in matchers.items())
    ):
        raise ValueError("matchers: expected a non-empty object of label: value strings")
    ends_at = data.get("ends_at")
    if data.get("duration") is not None:
        ends_at = time.time() + parse_duration(data["duration"])
    if ends_at is not None and not isinstance(ends_at, int | float):
        raise ValueError("ends_at: expected unix seconds or null")
    return matchers, ends_at, str(data.get("comment", ""))


async def add_silence(request: web.Request) -> web.Response:
    check_admin(request)
    try:
        matchers, ends_at, comment = _silence_request(await request.json())
    except ValueError as exc:
        return web.json_response({"status": "error", "errors": [str(exc)]}, status=400)
    silence = state_of(request).silences.add(matchers, ends_at, comment)
    return web.json_response(silence_to_dict(silence), status=201)


async def delete_silence(request: web.Request) -> web.Response:
    check_admin(request)
    if not state_of(request).silences.remove(request.match_info["id"]):
        raise web.HTTPNotFound(text="no such silence (config silences are removed in the config)\n")
    return web.Response(status=204)


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
    app.router.add_get("/api/alerts", api_alerts)
    app.router.add_get("/api/silences", list_silences)
    app.router.add_post("/api/silences", add_silence)
    app.router.add_delete("/api/silences/{id}", delete_silence)
    return app
