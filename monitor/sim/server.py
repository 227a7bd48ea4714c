"""Serves the simulator as two HTTP services, Auth and Backend (`consistency-monitor simulate`).

Both apps share one `World`, so the sync pipeline, faults and ground truth behave exactly
as in-process. The Backend's reads and writes go through a `BackendStore`: the world's
Backend storage (in memory, or PostgreSQL with `simulate --backend-dsn`) unless another
is injected.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from monitor.sim.admin import ADMIN_TOKEN, add_admin_routes
from monitor.sim.model import NotFoundError, SimError
from monitor.sim.storage import BackendStore
from monitor.sim.wire import (
    WORLD,
    body_of,
    boolean,
    error,
    flat,
    json_object,
    nested,
    only,
    required,
    text,
)
from monitor.sim.world import World

log = logging.getLogger("monitor.sim.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STORE: web.AppKey[BackendStore] = web.AppKey("store")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Simulator errors answer with their own status; aiohttp's own errors as JSON too."""
    try:
        return await handler(request)
    except SimError as exc:
        return error(exc.status, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error(exc.status, exc.reason)
        if "Allow" in exc.headers:  # a 405 must say which methods are allowed
            response.headers["Allow"] = exc.headers["Allow"]
        return response


def _world(request: web.Request) -> World:
    return request.app[WORLD]


def _user_id(request: web.Request) -> str:
    return request.match_info["id"]


def _auth_user(world: World, user_id: str) -> dict[str, object]:
    """The user as Auth shows it: id, nested fields and version."""
    user = world.auth.users.get(user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    return {"id": user_id, **nested(user.fields), "version": user.version}


# -- Auth ---------------------------------------------------------------------------------


async def create_user(request: web.Request) -> web.Response:
    world = _world(request)
    user_id = await world.auth.create(flat(await body_of(request)))
    return web.json_response(_auth_user(world, user_id), status=201)


async def get_user(request: web.Request) -> web.Response:
    world, user_id = _world(request), _user_id(request)
    if await world.auth.get(user_id) is None:
        raise NotFoundError(f"no user {user_id}")
    return web.json_response(_auth_user(world, user_id))


async def update_user(request: web.Request) -> web.Response:
    world, user_id = _world(request), _user_id(request)
    await world.auth.update(user_id, flat(await body_of(request)))
    return web.json_response(_auth_user(world, user_id))


async def delete_user(request: web.Request) -> web.Response:
    await _world(request).auth.delete(_user_id(request))
    return web.Response(status=204)


async def list_users(request: web.Request) -> web.Response:
    found = await _world(request).auth.list(request.query.get("email_suffix", ""))
    return web.json_response({"users": [{"id": uid, "email": email} for uid, email in found]})


async def transaction(request: web.Request) -> web.Response:
    """Create a user in both services at once; `fail` makes it roll back midway."""
    body = json_object(await body_of(request))
    only(body, ("user", "fail"))
    fields = flat(body.get("user"), what="body.user")
    fail = boolean(body.get("fail", False), "body.fail")
    user_id, committed = await _world(request).transaction(fields, fail=fail)
    return web.json_response({"user_id": user_id, "committed": committed})


def make_auth_app(world: World, admin_token: str | None = None) -> web.Application:
    """The Auth service; its fault and ground-truth endpoints need `admin_token` (404
    without one: disabled, never open)."""
    app = web.Application(middlewares=[json_errors])
    app[WORLD] = world
    app[ADMIN_TOKEN] = admin_token
    app.router.add_post("/admin/users", create_user)
    app.router.add_get("/admin/users", list_users)
    app.router.add_get("/admin/users/{id}", get_user)
    app.router.add_patch("/admin/users/{id}", update_user)
    app.router.add_delete("/admin/users/{id}", delete_user)
    app.router.add_post("/admin/transactions", transaction)
    add_admin_routes(app)
    return app


# -- Backend ------------------------------------------------------------------------------


def _store(request: web.Request) -> BackendStore:
    return request.app[STORE]


async def backend_user(request: web.Request) -> web.Response:
    user_id = _user_id(request)
    fields = await _store(request).get_user(user_id)
    if fields is None:
        raise NotFoundError(f"no user {user_id}")
    return web.json_response(nested(fields))


async def count_users(request: web.Request) -> web.Response:
    return web.json_response({"count": await _store(request).count_users(_user_id(request))})


async def count_dependents(request: web.Request) -> web.Response:
    return web.json_response({"count": await _store(request).get_dependents(_user_id(request))})


async def create_dependent(request: web.Request) -> web.Response:
    body = json_object(await body_of(request))
    only(body, ("token",))
    token = text(required(body, "token"), "body.token")
    user_id = _user_id(request)
    await _store(request).create_dependent(user_id, token)
    return web.json_response({"user_id": user_id, "token": token}, status=201)


async def remove_user(request: web.Request) -> web.Response:
    await _store(request).delete_user(_user_id(request))
    return web.Response(status=204)


async def outage(request: web.Request) -> web.Response:
    """Start or end a Backend outage; ending it schedules the orphan sweeper."""
    body = json_object(await body_of(request))
    only(body, ("active",))
    active = boolean(required(body, "active"), "body.active")
    await _world(request).outage(active)
    log.info("backend outage %s", "started" if active else "ended")
    return web.json_response({"active": active})


def make_backend_app(world: World, *, store: BackendStore | None = None) -> web.Application:
    """The Backend service, reading and writing `store` (default: the world's own)."""
    app = web.Application(middlewares=[json_errors])
    app[WORLD] = world
    app[STORE] = store if store is not None else world.backend
    app.router.add_get("/users/{id}", backend_user)
    app.router.add_delete("/users/{id}", remove_user)
    app.router.add_get("/users/{id}/count", count_users)
    app.router.add_get("/users/{id}/dependents", count_dependents)
    app.router.add_post("/users/{id}/dependents", create_dependent)
    app.router.add_post("/admin/outage", outage)
    return app


# -- lifecycle ----------------------------------------------------------------------------

Address = tuple[str, int]


class SimulatorServer:
    """Both services on their own sockets, started and stopped explicitly (port 0 works)."""

    def __init__(
        self, world: World, *, admin_token: str | None = None, store: BackendStore | None = None
    ) -> None:
        self._apps = {
            "auth": make_auth_app(world, admin_token),
            "backend": make_backend_app(world, store=store),
        }
        self._runners: dict[str, web.AppRunner] = {}

    async def start(self, *, auth: Address, backend: Address) -> None:
        """Bind both; if the second cannot bind, the first is closed again."""
        try:
            for name, (host, port) in (("auth", auth), ("backend", backend)):
                runner = web.AppRunner(self._apps[name], access_log=None)
                await runner.setup()
                self._runners[name] = runner
                await web.TCPSite(runner, host, port).start()
        except BaseException:
            await self.stop()
            raise

    def url(self, name: str) -> str:
        """`http://host:port` of a started service, with the real port when 0 was asked."""
        host, port = self._runners[name].addresses[0][:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def stop(self) -> None:
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()
