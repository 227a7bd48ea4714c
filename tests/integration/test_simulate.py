"""`simulate`: the simulator served as real HTTP services, exercised over loopback.

Both apps run in-process on free ports (and as `python -m monitor simulate`), and
every endpoint is called with a real aiohttp client, faults included, changed live; the
shipped config/examples/http-sim.yaml runs every probe against them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from support.simulate_client import PROFILE, TOKEN, Sim, output_line, soon  # tests/ is on sys.path

from monitor.cli import run_check
from monitor.config import Config, SimulatorConfig, parse_config
from monitor.probes import PROBE_NAMES
from monitor.sim.server import SimulatorServer
from monitor.sim.world import World

pytestmark = pytest.mark.integration

FAST = {"auth_latency": 0.0, "sync_delay": 0.005, "reorder_hold": 0.05, "seed": 1}


async def served(token: str | None, **config: Any) -> AsyncIterator[Sim]:
    world = World(SimulatorConfig.model_validate({**FAST, **config}))
    server = SimulatorServer(world, admin_token=token)
    await server.start(auth=("127.0.0.1", 0), backend=("127.0.0.1", 0))
    try:
        async with aiohttp.ClientSession() as http:
            yield Sim(server.url("auth"), server.url("backend"), http, token)
    finally:
        await server.stop()
        world.close()


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async for s in served(TOKEN):
        yield s


@pytest.fixture
async def tokenless() -> AsyncIterator[Sim]:
    async for s in served(None):
        yield s


# -- Auth: users ------------------------------------------------------------------------


async def test_create_answers_the_user_with_id_nested_profile_and_version(sim: Sim) -> None:
    user = await sim.create()
    assert user == {
        "id": user["id"],
        "email": "ann@example.test",
        "display_name": "Ann",
        "profile": PROFILE,
        "version": 1,
    }
    assert await sim.call("GET", f"{sim.auth}/admin/users/{user['id']}") == (200, user)


async def test_patch_changes_only_the_given_fields_and_bumps_the_version(sim: Sim) -> None:
    user = await sim.create()
    changes = {"display_name": "Ann B", "profile": {"city": "Köln"}}
    status, patched = await sim.call("PATCH", f"{sim.auth}/admin/users/{user['id']}", changes)
    assert status == 200
    assert patched == {
        **user,
        "display_name": "Ann B",
        "profile": {**PROFILE, "city": "Köln"},
        "version": 2,
    }


async def test_patch_refuses_to_change_the_email(sim: Sim) -> None:
    user = await sim.create()
    url = f"{sim.auth}/admin/users/{user['id']}"
    status, body = await sim.call("PATCH", url, {"email": "other@example.test"})
    assert (status, body) == (400, {"error": "email cannot be changed"})


async def test_delete_answers_204_then_the_user_is_404(sim: Sim) -> None:
    user = await sim.create()
    url = f"{sim.auth}/admin/users/{user['id']}"
    assert await sim.call("DELETE", url) == (204, None)
    status, body = await sim.call("GET", url)
    assert status == 404 and "error" in body


@pytest.mark.parametrize(("method", "body"), [("GET", None), ("PATCH", {}), ("DELETE", None)])
async def test_unknown_user_is_404(sim: Sim, method: str, body: Any) -> None:
    status, answer = await sim.call(method, f"{sim.auth}/admin/users/u-nobody", body)
    assert (status, answer) == (404, {"error": "no user u-nobody"})


async def test_create_with_a_known_email_is_409(sim: Sim) -> None:
    await sim.create()
    body = {"email": "ann@example.test", "display_name": "Ann 2"}
    status, answer = await sim.call("POST", f"{sim.auth}/admin/users", body)
    assert status == 409 and "exists" in answer["error"]


@pytest.mark.parametrize(
    ("body", "raw", "error"),
    [
        (None, "{not json", "body: expected JSON"),
        (["a list"], "", "body: expected a JSON object"),
        ({"display_name": "no email"}, "", "email is required"),
        ({"email": "a@x.test", "name": "A"}, "", "body.name: unknown field"),
        ({"email": "a@x.test", "display_name": 7}, "", "body.display_name: expected a string"),
        ({"email": "a@x.test", "profile": {"colour": "red"}}, "", "body.profile.colour: unknown"),
        ({"email": "a@x.test", "profile": "de"}, "", "body.profile: expected a JSON object"),
    ],
)
async def test_a_bad_create_body_is_400_naming_the_problem(
    sim: Sim, body: Any, raw: str, error: str
) -> None:
    status, answer = await sim.call("POST", f"{sim.auth}/admin/users", body, raw=raw)
    assert status == 400
    assert answer["error"].startswith(error)


async def test_list_answers_the_users_under_an_email_suffix(sim: Sim) -> None:
    ann = await sim.create("ann@probe.test")
    await sim.create("bob@elsewhere.test")
    status, body = await sim.call("GET", f"{sim.auth}/admin/users?email_suffix=@probe.test")
    assert (status, body) == (200, {"users": [{"id": ann["id"], "email": "ann@probe.test"}]})


# -- Auth: transactions -----------------------------------------------------------------


async def test_a_committed_transaction_has_the_user_on_both_sides(sim: Sim) -> None:
    body = {"user": {"email": "txn@example.test", "display_name": "T"}, "fail": False}
    status, outcome = await sim.call("POST", f"{sim.auth}/admin/transactions", body)
    assert status == 200 and outcome["committed"] is True
    user_id = outcome["user_id"]
    assert (await sim.call("GET", f"{sim.auth}/admin/users/{user_id}"))[0] == 200
    assert await sim.backend_user(user_id) == (
        200,
        {"email": "txn@example.test", "display_name": "T", "profile": {}},
    )


async def test_a_failed_transaction_leaves_nothing_on_either_side(sim: Sim) -> None:
    body = {"user": {"email": "txn@example.test"}, "fail": True}
    status, outcome = await sim.call("POST", f"{sim.auth}/admin/transactions", body)
    assert status == 200 and outcome["committed"] is False
    assert (await sim.call("GET", f"{sim.auth}/admin/users/{outcome['user_id']}"))[0] == 404
    assert (await sim.backend_user(outcome["user_id"]))[0] == 404


async def test_a_transaction_body_with_an_unknown_key_is_400(sim: Sim) -> None:
    body = {"user": {"email": "txn@example.test"}, "rollback": True}
    status, answer = await sim.call("POST", f"{sim.auth}/admin/transactions", body)
    assert status == 400 and answer["error"].startswith("body.rollback: unknown field")


# -- Backend ----------------------------------------------------------------------------


async def test_a_created_user_reaches_the_backend_in_the_nested_shape(sim: Sim) -> None:
    user = await sim.create()
    assert await sim.synced(user["id"]) == {
        "email": "ann@example.test",
        "display_name": "Ann",
        "profile": PROFILE,
    }
    assert await sim.call("GET", f"{sim.backend}/users/{user['id']}/count") == (200, {"count": 1})


async def test_an_update_reaches_the_backend(sim: Sim) -> None:
    user = await sim.create()
    await sim.synced(user["id"])
    url = f"{sim.auth}/admin/users/{user['id']}"
    await sim.call("PATCH", url, {"display_name": "Ann B", "profile": {"plan": "free"}})
    shown = await soon(
        lambda: sim.backend_user(user["id"]), lambda r: r[1]["display_name"] == "Ann B", "update"
    )
    assert shown[1]["profile"] == {**PROFILE, "plan": "free"}


async def test_dependents_are_counted_and_deleted_with_their_user(sim: Sim) -> None:
    user = await sim.create()
    await sim.synced(user["id"])
    dependents = f"{sim.backend}/users/{user['id']}/dependents"
    status, body = await sim.call("POST", dependents, {"token": "session-1"})
    assert (status, body) == (201, {"user_id": user["id"], "token": "session-1"})
    assert await sim.call("GET", dependents) == (200, {"count": 1})
    await sim.call("DELETE", f"{sim.auth}/admin/users/{user['id']}")
    await sim.gone(user["id"])
    assert await sim.call("GET", dependents) == (200, {"count": 0})


async def test_a_dependent_of_an_unknown_user_is_404(sim: Sim) -> None:
    url = f"{sim.backend}/users/u-nobody/dependents"
    status, body = await sim.call("POST", url, {"token": "t"})
    assert (status, body) == (404, {"error": "no user u-nobody"})


async def test_a_dependent_without_a_token_is_400(sim: Sim) -> None:
    user = await sim.create()
    await sim.synced(user["id"])
    status, body = await sim.call("POST", f"{sim.backend}/users/{user['id']}/dependents", {})
    assert (status, body) == (400, {"error": "body.token: required"})


async def test_backend_delete_is_idempotent(sim: Sim) -> None:
    user = await sim.create()
    await sim.synced(user["id"])
    url = f"{sim.backend}/users/{user['id']}"
    assert await sim.call("DELETE", url) == (204, None)
    assert await sim.call("DELETE", url) == (204, None)
    assert (await sim.backend_user(user["id"]))[0] == 404


async def test_an_outage_answers_503_and_the_sweeper_removes_orphans_after_it(sim: Sim) -> None:
    user = await sim.create()
    await sim.synced(user["id"])
    outage = f"{sim.backend}/admin/outage"
    assert await sim.call("POST", outage, {"active": True}) == (200, {"active": True})
    status, body = await sim.backend_user(user["id"])
    assert status == 503 and "outage" in body["error"]
    await sim.call("DELETE", f"{sim.auth}/admin/users/{user['id']}")  # this delete is lost
    assert await sim.call("POST", outage, {"active": False}) == (200, {"active": False})
    await sim.gone(user["id"])
    deletes = [c for c in (await sim.truth())["changes"] if c["op"] == "delete"]
    assert deletes[0]["visible_at"] is not None  # made visible by the sweep


async def test_outage_accepts_the_text_booleans_http_templates_produce(sim: Sim) -> None:
    outage = f"{sim.backend}/admin/outage"
    assert await sim.call("POST", outage, {"active": "true"}) == (200, {"active": True})
    assert await sim.call("POST", outage, {"active": "false"}) == (200, {"active": False})
    status, body = await sim.call("POST", outage, {"active": "maybe"})
    assert (status, body) == (400, {"error": "body.active: expected true or false"})


async def test_unknown_paths_answer_json_404(sim: Sim) -> None:
    status, body = await sim.call("GET", f"{sim.backend}/nothing/here")
    assert (status, body) == (404, {"error": "Not Found"})


async def test_a_wrong_method_answers_json_405_with_the_allowed_ones(sim: Sim) -> None:
    async with sim.http.put(f"{sim.backend}/users/u-1/count") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET,HEAD"
        assert await response.json() == {"error": "Method Not Allowed"}


# -- faults, changed live ---------------------------------------------------------------


async def test_faults_read_back_as_set_and_omitted_ones_are_off(sim: Sim) -> None:
    await sim.set_faults({"skip_cascade": 1.0})
    await sim.set_faults({"drop_sync": {"update": 0.3}, "duplicate_sync": 0.5})
    status, faults = await sim.call("GET", f"{sim.auth}/admin/faults")
    assert status == 200
    assert faults["drop_sync"] == {"create": 0.0, "update": 0.3, "delete": 0.0}
    assert (faults["duplicate_sync"], faults["skip_cascade"]) == (0.5, 0.0)


async def test_invalid_faults_are_400_with_key_paths_and_change_nothing(sim: Sim) -> None:
    await sim.set_faults({"skip_cascade": 1.0})
    bad = {"drop_sync": {"update": 2}, "skip_casade": 1}
    status, body = await sim.call("PUT", f"{sim.auth}/admin/faults", bad)
    assert status == 400
    assert body["errors"] == [
        "drop_sync.update: must be at most 1",
        "skip_casade: unknown key (did you mean skip_cascade?)",
    ]
    assert (await sim.call("GET", f"{sim.auth}/admin/faults"))[1]["skip_cascade"] == 1.0


async def test_drop_sync_on_create_keeps_the_user_out_of_the_backend(sim: Sim) -> None:
    await sim.set_faults({"drop_sync": {"create": 1.0}})
    user = await sim.create()
    await soon(lambda: sim.faults_fired("drop_sync"), bool, "the create's delivery")
    assert (await sim.backend_user(user["id"]))[0] == 404
    truth = await sim.truth()
    assert [c["visible_at"] for c in truth["changes"] if c["user_id"] == user["id"]] == [None]


async def test_skip_cascade_leaves_dependents_behind(sim: Sim) -> None:
    user = await sim.create()
    await sim.synced(user["id"])
    await sim.set_faults({"skip_cascade": 1.0})
    dependents = f"{sim.backend}/users/{user['id']}/dependents"
    await sim.call("POST", dependents, {"token": "session-1"})
    await sim.call("DELETE", f"{sim.auth}/admin/users/{user['id']}")
    await sim.gone(user["id"])
    assert await sim.call("GET", dependents) == (200, {"count": 1})
    [fired] = await sim.faults_fired("skip_cascade")
    assert (fired["user_id"], fired["operation"]) == (user["id"], "delete")


async def test_auth_errors_answer_500(sim: Sim) -> None:
    await sim.set_faults({"auth_errors": 1.0})
    status, body = await sim.call("POST", f"{sim.auth}/admin/users", {"email": "a@x.test"})
    assert (status, body) == (500, {"error": "internal server error during create"})
    [fired] = await sim.faults_fired("auth_errors")
    assert fired["operation"] == "create"


# -- ground truth -----------------------------------------------------------------------


async def test_truth_records_when_each_change_became_visible(sim: Sim) -> None:
    user = await sim.create()
    await sim.synced(user["id"])
    truth = await sim.truth()
    [change] = truth["changes"]
    assert change["seq"] == 1 and (change["op"], change["user_id"]) == ("create", user["id"])
    assert change["emitted_at"] < change["visible_at"] <= truth["clock"]
    assert (await sim.truth(since_seq=1))["changes"] == []


async def test_clearing_truth_forgets_changes_and_faults(sim: Sim) -> None:
    await sim.set_faults({"drop_sync": 1.0})
    await sim.create()
    await soon(lambda: sim.faults_fired("drop_sync"), bool, "the create's delivery")
    assert await sim.call("POST", f"{sim.auth}/admin/truth/clear") == (204, None)
    truth = await sim.truth()
    assert (truth["changes"], truth["faults"]) == ([], [])


async def test_a_bad_since_seq_is_400(sim: Sim) -> None:
    status, body = await sim.call("GET", f"{sim.auth}/admin/truth?since_seq=last")
    assert (status, body) == (400, {"error": "since_seq: expected a whole number"})


# -- admin access -----------------------------------------------------------------------

ADMIN = [
    ("GET", "/admin/faults"),
    ("PUT", "/admin/faults"),
    ("GET", "/admin/truth"),
    ("POST", "/admin/truth/clear"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN)
async def test_admin_endpoints_need_the_token(sim: Sim, method: str, path: str) -> None:
    status, body = await sim.call(method, f"{sim.auth}{path}", {}, token="wrong")
    assert (status, body) == (401, {"error": "missing or wrong admin token"})
    async with sim.http.request(method, f"{sim.auth}{path}", json={}) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), ADMIN)
async def test_admin_endpoints_are_404_without_a_configured_token(
    tokenless: Sim, method: str, path: str
) -> None:
    status, body = await tokenless.call(method, f"{tokenless.auth}{path}", {})
    assert status == 404
    assert body == {"error": "admin endpoints are disabled: no admin token configured"}


async def test_user_endpoints_need_no_token(tokenless: Sim) -> None:
    user = await tokenless.create()
    assert (await tokenless.synced(user["id"]))["email"] == "ann@example.test"


# -- the shipped example --------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "http-sim.yaml"


def example_against(sim: Sim) -> Config:
    """config/examples/http-sim.yaml pointed at these services, with short deadlines."""
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document["defaults"]["deadlines"] = {"sync": "300ms", "give_up": "1s", "load": "2s"}
    target = document["targets"][0]
    target["auth"]["base_url"], target["backend"]["base_url"] = sim.auth, sim.backend
    return parse_config(document, source=str(EXAMPLE))


async def test_every_probe_of_the_http_sim_example_passes_against_simulate(sim: Sim) -> None:
    config = example_against(sim)
    results = await run_check(config, {"http-sim": config.probe_names(config.targets[0])}, 1)
    assert {r.probe: r.outcome for r in results} == dict.fromkeys(PROBE_NAMES, "pass")


async def test_a_fault_switched_on_live_is_reported_through_the_http_example(sim: Sim) -> None:
    config = example_against(sim)
    await sim.set_faults({"skip_cascade": 1.0})
    [result] = await run_check(config, {"http-sim": ["delete_cascade"]}, 1)
    assert (result.outcome, result.kinds) == ("fail", {"cascade"})


# -- the command ------------------------------------------------------------------------


async def test_the_simulate_command_serves_with_its_flags_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "monitor", "simulate", "--seed", "3", "--auth-latency", "0ms"],
        *["--auth-listen", "127.0.0.1:0", "--backend-listen", "127.0.0.1:0"],
        *["--sync-delay", "5ms", "--fault", "skip_cascade=1", "--fault", "drop_sync.update=0.5"],
        env={**os.environ, "SIMULATE_ADMIN_TOKEN": TOKEN},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        urls = dict([(await output_line(proc)).split(), (await output_line(proc)).split()])
        async with aiohttp.ClientSession() as http:
            sim = Sim(urls["auth"], urls["backend"], http)
            faults = (await sim.call("GET", f"{sim.auth}/admin/faults"))[1]
            assert faults["skip_cascade"] == 1.0
            assert faults["drop_sync"] == {"create": 0.0, "update": 0.5, "delete": 0.0}
            await sim.synced((await sim.create())["id"])
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_the_simulate_command_exits_1_when_an_address_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "monitor", "simulate", "--auth-listen", "127.0.0.1:0"],
            *["--backend-listen", f"127.0.0.1:{port}"],
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 1
    assert "cannot listen" in err.decode()
