"""The HTTP adapter against real servers on 127.0.0.1.

`simulate` served over HTTP in-process (every probe passes; every fault, switched on
through the admin endpoint, is reported with its kind), and a small stub service for
what `simulate` cannot show: error paths, the three auth modes, TLS and the rate limit.
Last, a monitor killed midway leaves a tagged user that the janitor removes from the
ledger.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import ssl
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import aiohttp
import pytest
import yaml
from aiohttp import web
from support.components import require_binary
from support.monitor_daemon import monitor_process, write_config
from support.network import free_port
from support.waiting import eventually

from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config, SimulatorConfig, parse_config
from monitor.janitor import sweep
from monitor.ledger import Ledger
from monitor.probes import PROBE_NAMES, REGISTRY
from monitor.results import ProbeResult
from monitor.runner import run_probe
from monitor.sim.server import SimulatorServer
from monitor.sim.world import World
from monitor.targets import http_client
from monitor.targets.base import TargetError, UntaggedRecord
from monitor.targets.build import build_target
from monitor.targets.http import HttpAuthSide

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "http-sim.yaml"
ADMIN_TOKEN = "test-admin-token"
FAST = {"auth_latency": 0.0, "sync_delay": 0.005, "reorder_hold": 0.05, "seed": 1}
DEADLINES = {"sync": "300ms", "give_up": "1s", "load": "2s"}
DOMAIN = "consistency-monitor.invalid"


async def run_once(config: Config, probe: str) -> ProbeResult:
    """One probe on the config's first target, built the way `check` and the daemon build it."""
    target_config = config.targets[0]
    target = build_target(target_config, clock=SYSTEM_CLOCK)
    try:
        return await run_probe(target, probe, config.probe_settings(target_config, probe))
    finally:
        await target.close()


# == simulate over HTTP ================================================================


@dataclass
class Simulate:
    """Both simulate services in this process, their world, and an admin client."""

    world: World
    auth: str
    backend: str
    http: aiohttp.ClientSession

    def document(self, **defaults: Any) -> dict[str, Any]:
        """config/examples/http-sim.yaml pointed at these services, with short deadlines."""
        document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
        document["defaults"] |= {"deadlines": DEADLINES, **defaults}
        target = document["targets"][0]
        target["auth"]["base_url"], target["backend"]["base_url"] = self.auth, self.backend
        return dict(document)

    def config(self) -> Config:
        return parse_config(self.document(), source=str(EXAMPLE))

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with self.http.request(method, self.auth + path, json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def set_faults(self, faults: Mapping[str, Any]) -> None:
        await self.admin("PUT", "/admin/faults", dict(faults))

    async def fired(self) -> set[str]:
        """The faults ground truth says fired."""
        return {f["fault"] for f in (await self.admin("GET", "/admin/truth"))["faults"]}

    async def user(self, user_id: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.auth}/admin/users/{user_id}") as resp:
            return resp.status, await resp.json()

    async def tagged(self) -> list[dict[str, str]]:
        """The users Auth holds under the synthetic domain."""
        url = f"{self.auth}/admin/users?email_suffix=@{DOMAIN}"
        async with self.http.get(url) as resp:
            return list((await resp.json())["users"])


@contextlib.asynccontextmanager
async def simulate(**simulator: Any) -> AsyncIterator[Simulate]:
    world = World(SimulatorConfig.model_validate({**FAST, **simulator}))
    server = SimulatorServer(world, admin_token=ADMIN_TOKEN)
    await server.start(auth=("127.0.0.1", 0), backend=("127.0.0.1", 0))
    try:
        async with aiohttp.ClientSession() as http:
            yield Simulate(world, server.url("auth"), server.url("backend"), http)
    finally:
        await server.stop()
        world.close()


@pytest.fixture
async def sim() -> AsyncIterator[Simulate]:
    async with simulate() as served:
        yield served


@pytest.mark.parametrize("probe", PROBE_NAMES)
async def test_every_probe_passes_against_a_healthy_simulate(sim: Simulate, probe: str) -> None:
    result = await run_once(sim.config(), probe)

    assert (result.outcome, result.inconsistencies, result.error) == ("pass", (), None)


# (fault, faults to set, the probe that must catch it, the kind it must report)
FAULT_TABLE = [
    ("drop_sync", {"drop_sync": {"create": 1}}, "create_sync", "missing"),
    ("drop_sync", {"drop_sync": {"update": 1}}, "update_propagation", "stale"),
    ("drop_sync", {"drop_sync": {"delete": 1}}, "delete_cascade", "orphan"),
    ("duplicate_sync", {"duplicate_sync": 1}, "duplicate", "duplicate"),
    ("duplicate_sync", {"duplicate_sync": 1}, "concurrent", "duplicate"),
    ("skip_cascade", {"skip_cascade": 1}, "delete_cascade", "cascade"),
    ("partial_update", {"partial_update": 1}, "partial_update", "partial"),
    ("clobber_update", {"clobber_update": 1}, "partial_update", "partial"),
    ("reorder_sync", {"reorder_sync": 1}, "update_propagation", "stale"),
    ("half_commit", {"half_commit": 1}, "transaction", "missing"),
    ("non_atomic_rollback", {"non_atomic_rollback": 1}, "rollback", "rollback"),
    ("no_orphan_sweep", {"no_orphan_sweep": 1}, "orphan_cleanup", "orphan"),
]


@pytest.mark.parametrize(
    ("fault", "faults", "probe", "kind"),
    [pytest.param(*row, id=f"{row[0]}-{row[2]}") for row in FAULT_TABLE],
)
async def test_a_fault_set_through_the_admin_endpoint_is_reported_with_its_kind(
    sim: Simulate, fault: str, faults: dict[str, Any], probe: str, kind: str
) -> None:
    await sim.set_faults(faults)

    result = await run_once(sim.config(), probe)

    assert (result.outcome, result.kinds, result.error) == ("fail", frozenset({kind}), None), result
    assert fault in await sim.fired()


@pytest.mark.parametrize("probe", PROBE_NAMES)
async def test_auth_errors_make_every_probe_an_error_naming_the_call(
    sim: Simulate, probe: str
) -> None:
    await sim.set_faults({"auth_errors": 1})

    result = await run_once(sim.config(), probe)

    first = "transaction" if "auth.transaction" in REGISTRY[probe].NEEDS else "create"
    path = {"create": "users", "transaction": "transactions"}[first]
    assert result.outcome == "error"
    assert result.error == f"auth.{first}: POST {sim.auth}/admin/{path} → 500 Internal Server Error"


@pytest.mark.parametrize("probe", ["create_sync", "update_propagation", "delete_cascade"])
async def test_a_sync_slower_than_the_sync_deadline_is_slow(probe: str) -> None:
    async with simulate(sync_delay=0.5) as slow:
        result = await run_once(slow.config(), probe)

    assert (result.outcome, result.kinds) == ("fail", frozenset({"slow"})), result
    assert all(s.seconds is not None and 0.45 < s.seconds < 1.0 for s in result.syncs)


# == the guard over HTTP ===============================================================

ALICE = {
    "email": "alice@example.com",
    "display_name": "Alice",
    "profile": {"locale": "en", "timezone": "UTC", "plan": "pro", "city": "Oslo", "theme": "x"},
}


@pytest.mark.parametrize("call", ["update", "delete"])
async def test_an_untagged_user_is_refused_and_left_unchanged(sim: Simulate, call: str) -> None:
    async with sim.http.post(f"{sim.auth}/admin/users", json=ALICE) as resp:
        assert resp.status == 201
        alice = await resp.json()
    target = build_target(sim.config().targets[0], clock=SYSTEM_CLOCK)
    try:
        with pytest.raises(UntaggedRecord) as refused:
            if call == "update":
                await target.auth.update(alice["id"], {"display_name": "Mallory"})
            else:
                await target.auth.delete(alice["id"])
    finally:
        await target.close()

    assert str(refused.value) == (
        f"refusing to {call} user {alice['id']}: its email is not under the synthetic domain"
    )
    assert await sim.user(alice["id"]) == (200, alice)


# == a stub service: error paths, auth modes, TLS, rate limit ============================

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENT_ID, CLIENT_SECRET = "monitor:app", "client-s3cret-value/with:+&"  # to be form-encoded
BEARER = "bearer-s3cret-value"
BASIC = ("monitor", "basic-s3cret-value")
WRONG_SECRET = "wrong-s3cret-value"
SECRETS = (BEARER, BASIC[1], CLIENT_SECRET, WRONG_SECRET)


@dataclass
class Stub:
    """Auth and Backend on one port: users in memory, mirrored at once. A route's answer
    can be replaced by name, `check` decides which credentials pass, and every request's
    arrival is recorded. OAuth2 tokens come from POST /oauth/token."""

    url: str = ""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=itertools.count)
    answers: dict[str, Handler] = field(default_factory=dict)
    check: Callable[[web.Request], bool] = lambda request: True
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    expires_in: float = 300.0
    issued: list[str] = field(default_factory=list)
    client_auth: list[str] = field(default_factory=list)  # how each token request came
    valid: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self, route: str) -> list[float]:
        """When requests to the named route arrived (monotonic seconds)."""
        return [at for at, name in self.arrivals if name == route]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.match_info.route.name or ""
        self.arrivals.append((time.monotonic(), name))
        if name != "token" and not self.check(request):
            return web.json_response({"error": "who are you"}, status=401)
        return await self.answers.get(name, handler)(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware])
        routes = [
            ("POST", "/admin/users", self.create, "create"),
            ("GET", "/admin/users", self.list, "list"),
            ("GET", "/admin/users/{id}", self.get, "get"),
            ("DELETE", "/admin/users/{id}", self.delete, "delete"),
            ("GET", "/users/{id}", self.get, "get_user"),
            ("GET", "/users/{id}/count", self.count, "count_users"),
            ("POST", "/oauth/token", self.token, "token"),
        ]
        for method, path, handler, name in routes:
            app.router.add_route(method, path, handler, name=name)
        return app

    async def create(self, request: web.Request) -> web.Response:
        user_id = f"u{next(self.ids) + 1}"
        self.users[user_id] = dict(await request.json())
        return web.json_response({"id": user_id, **self.users[user_id]}, status=201)

    async def get(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["id"])
        if user is None:
            return web.json_response({"error": "no such user"}, status=404)
        return web.json_response(user)

    async def list(self, request: web.Request) -> web.Response:
        suffix = request.query.get("suffix", "")
        found = [
            {"id": k, **u} for k, u in self.users.items() if u.get("email", "").endswith(suffix)
        ]
        return web.json_response({"users": found})

    async def delete(self, request: web.Request) -> web.Response:
        found = self.users.pop(request.match_info["id"], None)
        return web.Response(status=204 if found else 404)

    async def count(self, request: web.Request) -> web.Response:
        return web.json_response({"count": int(request.match_info["id"] in self.users)})

    async def token(self, request: web.Request) -> web.Response:
        """Client credentials by HTTP Basic (each part form-encoded) or in the form, not
        both (RFC 6749 2.3)."""
        form = await request.post()
        header = request.headers.get("Authorization", "")
        in_form = (form.get("client_id"), form.get("client_secret"))
        if header.startswith("Basic ") and in_form == (None, None):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            client, how = (unquote_plus(user), unquote_plus(password)), "basic"
        elif not header:
            client, how = in_form, "body"
        else:
            client, how = (None, None), "both"
        self.client_auth.append(how)
        if (form.get("grant_type"), *client) != ("client_credentials", CLIENT_ID, CLIENT_SECRET):
            return web.json_response({"error": "invalid_client"}, status=401)
        self.issued.append(f"token-{len(self.issued) + 1}")
        self.valid.add(self.issued[-1])
        return web.json_response(
            {"access_token": self.issued[-1], "token_type": "Bearer", "expires_in": self.expires_in}
        )

    async def hang(self, request: web.Request) -> web.Response:
        """Never answers (until the stub stops)."""
        await self.release.wait()
        return web.Response(status=503)


@contextlib.asynccontextmanager
async def stub_server(tls: ssl.SSLContext | None = None) -> AsyncIterator[Stub]:
    stub = Stub()
    runner = web.AppRunner(stub.app(), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    stub.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        yield stub
    finally:
        stub.release.set()
        await runner.cleanup()


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    async with stub_server() as served:
        yield served


FIELDS = {"email": "$.email", "display_name": "$.display_name"}


def auth_side(url: str, **options: Any) -> dict[str, Any]:
    body = {"email": "{email}", "display_name": "{display_name}"}
    operations = {
        "create": {"method": "POST", "path": "/admin/users", "body": body, "id_from": "$.id"},
        "get": {"path": "/admin/users/{id}"},
        "delete": {"method": "DELETE", "path": "/admin/users/{id}"},
    }
    return {"kind": "http", "base_url": url, "operations": operations, "fields": FIELDS, **options}


def backend_side(url: str, **options: Any) -> dict[str, Any]:
    operations = {
        "get_user": {"path": "/users/{id}"},
        "count_users": {"path": "/users/{id}/count", "count_from": "$.count"},
    }
    return {"kind": "http", "base_url": url, "operations": operations, "fields": FIELDS, **options}


def stub_config(
    auth: Mapping[str, Any], backend: Mapping[str, Any], *, base_dir: Path | None = None
) -> Config:
    """A config file's worth: one target `stub` running create_sync, short deadlines."""
    document = {
        "defaults": {"deadlines": DEADLINES, "timeout": "5s"},
        "targets": [
            {
                "name": "stub",
                "auth": dict(auth),
                "backend": dict(backend),
                "probes": ["create_sync"],
            }
        ],
    }
    return parse_config(document, base_dir=base_dir)


def stub_auth(stub: Stub, **options: Any) -> HttpAuthSide:
    """The Auth side of a stub target, on its own (for calls a probe would not make)."""
    side = stub_config(auth_side(stub.url, **options), backend_side(stub.url)).targets[0].auth
    assert side is not None and side.kind == "http"
    return HttpAuthSide(side, fields=("email", "display_name"))


def tag(n: int = 1) -> dict[str, str]:
    return {"email": f"probe-1700000000-{n:010x}@{DOMAIN}", "display_name": "P"}


async def test_create_sync_passes_against_the_stub(stub: Stub) -> None:
    """The control for the error paths below: the same set-up, nothing broken."""
    result = await run_once(stub_config(auth_side(stub.url), backend_side(stub.url)), "create_sync")

    assert (result.outcome, result.error) == ("pass", None), result
    assert stub.users == {}  # cleaned up


# -- error paths -----------------------------------------------------------------------


def answer(status: int, text: str = "", content_type: str = "application/json") -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=text, content_type=content_type)

    return handler


async def test_connection_refused_is_an_error_naming_the_address(stub: Stub) -> None:
    port = free_port()
    closed = f"http://127.0.0.1:{port}"

    result = await run_once(stub_config(auth_side(closed), backend_side(stub.url)), "create_sync")

    assert result.outcome == "error"
    assert result.error == f"auth.create: connection refused (127.0.0.1:{port})"


async def test_a_backend_refusing_connections_is_named_as_the_backend(stub: Stub) -> None:
    port = free_port()
    closed = f"http://127.0.0.1:{port}"

    result = await run_once(stub_config(auth_side(stub.url), backend_side(closed)), "create_sync")

    assert result.outcome == "error"
    assert result.error == f"backend.get_user: connection refused (127.0.0.1:{port})"
    assert stub.users == {}  # the user it made in Auth was cleaned up


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, "Unauthorized"), (403, "Forbidden"), (500, "Internal Server Error")],
)
async def test_an_error_status_is_an_error_naming_the_request_and_status(
    stub: Stub, status: int, reason: str
) -> None:
    stub.answers["create"] = answer(status, '{"error": "no"}')

    result = await run_once(stub_config(auth_side(stub.url), backend_side(stub.url)), "create_sync")

    assert result.outcome == "error"
    assert result.error == f"auth.create: POST {stub.url}/admin/users → {status} {reason}"


async def test_a_request_without_an_answer_times_out_with_the_side_timeout(stub: Stub) -> None:
    stub.answers["create"] = stub.hang
    config = stub_config(auth_side(stub.url, timeout="200ms"), backend_side(stub.url))

    started = time.monotonic()
    result = await run_once(config, "create_sync")

    assert result.outcome == "error"
    assert result.error == f"auth.create: no answer within 0.2 s (POST {stub.url}/admin/users)"
    assert time.monotonic() - started < 2.0


async def test_malformed_json_is_an_error(stub: Stub) -> None:
    stub.answers["create"] = answer(201, '{"id": "u1", ')

    result = await run_once(stub_config(auth_side(stub.url), backend_side(stub.url)), "create_sync")

    assert result.outcome == "error"
    assert (
        result.error == f"auth.create: malformed JSON in the answer to POST {stub.url}/admin/users"
    )


@pytest.mark.parametrize(
    "body",
    ['{"email": "x@y.test"}', '{"id": null}', "", "[]"],
    ids=["no-id", "null", "empty", "list"],
)
async def test_a_create_answer_without_the_id_is_an_error(stub: Stub, body: str) -> None:
    stub.answers["create"] = answer(201, body)

    result = await run_once(stub_config(auth_side(stub.url), backend_side(stub.url)), "create_sync")

    assert result.outcome == "error"
    assert result.error == "auth.create: the answer to create has nothing at $.id"


@pytest.mark.parametrize(
    ("body", "shown"), [('{"count": "many"}', "'many'"), ('{"count": [1]}', "[1]")]
)
async def test_a_count_that_is_not_a_number_is_an_error(stub: Stub, body: str, shown: str) -> None:
    stub.answers["count_users"] = answer(200, body)

    result = await run_once(stub_config(auth_side(stub.url), backend_side(stub.url)), "create_sync")

    assert result.outcome == "error"
    assert result.error == f"backend.count_users: the answer to count_users is not a count: {shown}"
    assert stub.users == {}


# -- auth modes --------------------------------------------------------------------------


def bearer(token: str) -> Callable[[web.Request], bool]:
    return lambda request: request.headers.get("Authorization") == f"Bearer {token}"


def basic(user: str, password: str) -> Callable[[web.Request], bool]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return lambda request: request.headers.get("Authorization") == f"Basic {encoded}"


def oauth2_checked(stub: Stub) -> Callable[[web.Request], bool]:
    def check(request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return given in stub.valid

    return check


def oauth2(stub: Stub, secret: str = CLIENT_SECRET, **more: str) -> dict[str, Any]:
    options = {"token_url": f"{stub.url}/oauth/token", "client_id": CLIENT_ID, **more}
    return {"oauth2": {**options, "client_secret": secret, "scopes": ["users:admin"]}}


def assert_no_secret(*texts: str | None) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in (text or ""), f"a secret leaked into: {text}"


async def test_a_bearer_token_is_sent(stub: Stub) -> None:
    stub.check = bearer(BEARER)
    side = stub_auth(stub, auth={"bearer_token": BEARER})
    try:
        user_id = await side.create(tag())
        assert await side.get(user_id) == tag()
    finally:
        await side.close()


async def test_a_bearer_token_file_is_read_through_the_config(stub: Stub, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(f"{BEARER}\n", encoding="utf-8")
    stub.check = bearer(BEARER)
    auth = auth_side(stub.url, auth={"bearer_token_file": "token"})
    backend = backend_side(stub.url, auth={"bearer_token_file": "token"})
    config = stub_config(auth, backend, base_dir=tmp_path)

    result = await run_once(config, "create_sync")

    assert (result.outcome, result.error) == ("pass", None), result


async def test_basic_auth_is_sent(stub: Stub) -> None:
    stub.check = basic(*BASIC)
    credentials = {"basic": {"username": BASIC[0], "password": BASIC[1]}}
    side = stub_auth(stub, auth=credentials)
    try:
        assert await side.get(await side.create(tag())) == tag()
    finally:
        await side.close()


@pytest.mark.parametrize(
    "credentials",
    [
        {"bearer_token": WRONG_SECRET},
        {"basic": {"username": BASIC[0], "password": WRONG_SECRET}},
    ],
    ids=["bearer", "basic"],
)
async def test_wrong_credentials_are_an_error_that_shows_no_secret(
    stub: Stub, credentials: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    stub.check = bearer(BEARER) if "bearer_token" in credentials else basic(*BASIC)
    auth = auth_side(stub.url, auth=credentials)

    result = await run_once(stub_config(auth, backend_side(stub.url)), "create_sync")

    assert result.outcome == "error"
    assert result.error == f"auth.create: POST {stub.url}/admin/users → 401 Unauthorized"
    assert_no_secret(result.error, caplog.text)


LIST = {
    "path": "/admin/users?suffix={email_suffix}",
    "ids_from": "$.users[*].id",
    "emails_from": "$.users[*].email",
}


async def test_list_pairs_each_tagged_user_id_with_its_email(stub: Stub) -> None:
    side = stub_auth(stub, operations={**auth_side(stub.url)["operations"], "list": LIST})
    try:
        first, second = await side.create(tag(1)), await side.create(tag(2))
        stub.users["u-other"] = {"email": "someone@example.com"}
        assert await side.list(f"@{DOMAIN}") == [
            (first, tag(1)["email"]),
            (second, tag(2)["email"]),
        ]
    finally:
        await side.close()


async def test_a_list_answer_whose_ids_and_emails_do_not_pair_up_is_an_error(stub: Stub) -> None:
    side = stub_auth(stub, operations={**auth_side(stub.url)["operations"], "list": LIST})
    try:
        await side.create(tag(1))
        stub.users["u-no-mail"] = {"display_name": "no email"}  # would shift every pair
        with pytest.raises(TargetError) as caught:
            await side.list("")
    finally:
        await side.close()
    assert str(caught.value) == (
        "the answer to list has 2 ids at $.users[*].id but 1 emails at $.users[*].email; "
        "cannot pair them"
    )


async def test_a_query_string_in_a_path_shows_its_names_but_not_its_values(
    stub: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.answers["create"] = answer(500)
    auth = auth_side(stub.url)
    auth["operations"]["create"]["path"] = f"/admin/users?api_key={WRONG_SECRET}&dry"

    result = await run_once(stub_config(auth, backend_side(stub.url)), "create_sync")

    assert result.outcome == "error"
    assert result.error == (
        f"auth.create: POST {stub.url}/admin/users?api_key=…&dry=… → 500 Internal Server Error"
    )
    assert_no_secret(result.error, caplog.text)


@pytest.fixture
def oauth_stub(stub: Stub) -> Stub:
    stub.check = oauth2_checked(stub)
    return stub


async def test_an_oauth2_token_is_fetched_once_and_cached_across_calls(oauth_stub: Stub) -> None:
    side = stub_auth(oauth_stub, auth=oauth2(oauth_stub))
    try:
        user_id = await side.create(tag())
        for _ in range(3):
            assert await side.get(user_id) == tag()
    finally:
        await side.close()

    assert oauth_stub.issued == ["token-1"]


@pytest.mark.parametrize(
    ("options", "how"),
    [({}, "basic"), ({"client_auth": "basic"}, "basic"), ({"client_auth": "body"}, "body")],
)
async def test_the_client_authenticates_to_the_token_endpoint_as_configured(
    oauth_stub: Stub, options: dict[str, str], how: str
) -> None:
    side = stub_auth(oauth_stub, auth=oauth2(oauth_stub, **options))
    try:
        assert await side.get("u-none") is None
    finally:
        await side.close()

    assert (oauth_stub.client_auth, oauth_stub.issued) == ([how], ["token-1"])


async def test_concurrent_first_calls_share_one_oauth2_token(oauth_stub: Stub) -> None:
    side = stub_auth(oauth_stub, auth=oauth2(oauth_stub))
    try:
        assert await asyncio.gather(*(side.get("u-none") for _ in range(5))) == [None] * 5
    finally:
        await side.close()

    assert oauth_stub.issued == ["token-1"]


class FakeTime:
    """Stands in for the `time` module inside http_client: its clock moves when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_an_oauth2_token_is_renewed_before_it_expires(
    oauth_stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeTime()
    monkeypatch.setattr(http_client, "time", clock)
    oauth_stub.expires_in = 90  # renewed TOKEN_EARLY (30 s) before: good for 60 s
    side = stub_auth(oauth_stub, auth=oauth2(oauth_stub))
    try:
        await side.get("u-none")
        clock.now += 59
        await side.get("u-none")
        assert oauth_stub.issued == ["token-1"]
        clock.now += 2
        await side.get("u-none")
    finally:
        await side.close()

    assert oauth_stub.issued == ["token-1", "token-2"]


async def test_a_401_fetches_a_new_oauth2_token_once_and_retries_once(oauth_stub: Stub) -> None:
    side = stub_auth(oauth_stub, auth=oauth2(oauth_stub))
    try:
        user_id = await side.create(tag())
        oauth_stub.valid.clear()  # the provider revoked token-1 before it expired
        assert await side.get(user_id) == tag()
    finally:
        await side.close()

    assert oauth_stub.issued == ["token-1", "token-2"]
    assert len(oauth_stub.arrived("get")) == 2


async def test_the_401_retry_works_on_a_single_connection(oauth_stub: Stub) -> None:
    """The 401's connection is given back before the token request and the retry need it
    (a body too big to be read with the headers keeps it busy until it is released)."""
    refused: list[web.Request] = []

    async def refuse_once(request: web.Request) -> web.Response:
        if refused:
            return await oauth_stub.get(request)
        refused.append(request)
        return web.Response(status=401, text="x" * 2_000_000)

    oauth_stub.answers["get"] = refuse_once
    side = stub_auth(oauth_stub, auth=oauth2(oauth_stub), max_connections=1, timeout="2s")
    try:
        user_id = await side.create(tag())
        assert await side.get(user_id) == tag()
    finally:
        await side.close()

    assert oauth_stub.issued == ["token-1", "token-2"]


async def test_a_second_401_is_an_error_without_another_retry(oauth_stub: Stub) -> None:
    oauth_stub.answers["get"] = answer(401, '{"error": "expired"}')
    side = stub_auth(oauth_stub, auth=oauth2(oauth_stub))
    try:
        with pytest.raises(TargetError) as failed:
            await side.get("u1")
    finally:
        await side.close()

    assert str(failed.value) == f"GET {oauth_stub.url}/admin/users/u1 → 401 Unauthorized"
    assert oauth_stub.issued == ["token-1", "token-2"]
    assert len(oauth_stub.arrived("get")) == 2
    assert_no_secret(str(failed.value), *oauth_stub.issued)


async def test_a_rejected_client_secret_is_an_error_that_shows_no_secret(
    oauth_stub: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    auth = auth_side(oauth_stub.url, auth=oauth2(oauth_stub, secret=WRONG_SECRET))

    result = await run_once(stub_config(auth, backend_side(oauth_stub.url)), "create_sync")

    assert result.outcome == "error"
    token_url = f"{oauth_stub.url}/oauth/token"
    assert result.error == f"auth.create: OAuth2 token: POST {token_url} → 401 Unauthorized"
    assert_no_secret(result.error, caplog.text)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ({"token_type": "Bearer"}, "the answer has no access_token"),
        ({"access_token": "t", "expires_in": "soon"}, "expires_in is not a number"),
        ("not json", "JSONDecodeError"),
    ],
)
async def test_an_unusable_token_answer_is_an_error_naming_the_problem(
    oauth_stub: Stub, token: Any, problem: str
) -> None:
    text = token if isinstance(token, str) else json.dumps(token)
    oauth_stub.answers["token"] = answer(200, text)
    side = stub_auth(oauth_stub, auth=oauth2(oauth_stub))
    try:
        with pytest.raises(TargetError) as failed:
            await side.get("u1")
    finally:
        await side.close()

    assert str(failed.value) == f"OAuth2 token: POST {oauth_stub.url}/oauth/token: {problem}"


async def test_create_sync_passes_with_oauth2_on_both_sides(oauth_stub: Stub) -> None:
    credentials = oauth2(oauth_stub)
    config = stub_config(
        auth_side(oauth_stub.url, auth=credentials), backend_side(oauth_stub.url, auth=credentials)
    )

    result = await run_once(config, "create_sync")

    assert (result.outcome, result.error) == ("pass", None), result
    assert oauth_stub.issued == ["token-1", "token-2"]  # one per side, each cached


# -- TLS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl CLI."""
    openssl = require_binary("openssl", package="openssl")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
async def tls_stub(certificate: tuple[Path, Path]) -> AsyncIterator[Stub]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    async with stub_server(tls=context) as served:
        yield served


async def test_an_untrusted_certificate_is_an_error(tls_stub: Stub) -> None:
    config = stub_config(auth_side(tls_stub.url), backend_side(tls_stub.url))

    result = await run_once(config, "create_sync")

    assert result.outcome == "error"
    port = tls_stub.url.rsplit(":", 1)[1]
    assert result.error == f"auth.create: TLS certificate not trusted (127.0.0.1:{port})"
    assert tls_stub.users == {}


async def test_a_certificate_signed_by_the_configured_ca_is_trusted(
    tls_stub: Stub, certificate: tuple[Path, Path]
) -> None:
    tls = {"ca_file": str(certificate[0])}
    config = stub_config(auth_side(tls_stub.url, tls=tls), backend_side(tls_stub.url, tls=tls))

    result = await run_once(config, "create_sync")

    assert (result.outcome, result.error) == ("pass", None), result


# -- rate limit ------------------------------------------------------------------------


async def test_a_rate_limit_spaces_the_request_starts(stub: Stub) -> None:
    side = stub_auth(stub, rate_limit="20/s")
    try:
        await asyncio.gather(*(side.get(f"u{n}") for n in range(8)))
    finally:
        await side.close()

    arrivals = sorted(stub.arrived("get"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) == 8
    assert 0.04 <= statistics.median(gaps) <= 0.2, gaps


# == a crash midway, then the janitor ===================================================


async def test_after_a_crash_midway_the_janitor_removes_what_the_ledger_holds(
    tmp_path: Path,
) -> None:
    async with simulate(sync_delay=2.0) as slow:
        document = slow.document(interval="1s", timeout="10s")
        document["defaults"]["deadlines"] = {"sync": "300ms", "give_up": "5s"}
        document["targets"][0]["probes"] = ["create_sync"]
        config_path = write_config(tmp_path / "monitor.yaml", document)
        state = tmp_path / "state"
        async with monitor_process(config_path, state) as monitor:
            left = await eventually(slow.tagged, bool, within=15, every=0.01, what="a probe user")
            monitor.process.kill()  # SIGKILL: no cleanup, no graceful stop
            await monitor.process.wait()
        [user] = left
        assert await slow.tagged() == [user]  # the run died with its user in Auth

        ledger = Ledger(state / "ledger.sqlite3")
        try:
            # SIGKILL may land before the monitor read Auth's answer: then the entry has
            # the email only, and the janitor finds the id by listing tagged users.
            [entry] = ledger.entries("http-sim")
            assert entry.email == user["email"]
            assert entry.user_id in (user["id"], None)
            config = parse_config(document)
            target = build_target(config.targets[0], clock=SYSTEM_CLOCK, ledger=ledger)
            try:
                now = time.time()
                swept = await sweep(target, ledger, ttl=3600, now=now, before=now)
            finally:
                await target.close()
            assert await slow.tagged() == []
            assert ledger.entries("http-sim") == []
            assert (swept.auth, swept.failed) == (1, 0)
        finally:
            ledger.close()
