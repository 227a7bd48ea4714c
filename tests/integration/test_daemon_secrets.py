"""Secrets stay secret: the admin token (`admin_token_file`), a webhook's bearer token
(`${ENV}`) and its signing key (`secret_file`) are used, yet appear in no log line (at
debug level), no HTTP answer (status, metrics, pages, alerts, a refused reload) and no
`validate` output.

A webhook receiver proves the webhook secrets are live, and a reload with the admin
token proves that one is: a test that never used them would prove nothing.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.monitor_daemon import (
    ROOT,
    get_text,
    monitor_config,
    monitor_process,
    post_reload,
    sim_target,
    write_config,
)
from support.receiver import Delivery, Receiver
from support.waiting import eventually

pytestmark = pytest.mark.integration

ADMIN = "admin-7f3a9c1e5d-token"
BEARER = "bearer-1b2c3d4e5f-token"
SIGNING = "signing-9a8b7c6d5e-key"
SECRETS = (ADMIN, BEARER, SIGNING)
ENV = {"MONITOR_TEST_WEBHOOK_TOKEN": BEARER}
# A refused file puts the secret where a validation message could echo it: into keys
# of the wrong type and a misspelt key.
BAD_KEYS = (
    "server.history",
    "alerts.webhooks[0].timeout",
    "alerts.webhooks[0].bearer_tokn",
)


def config(receiver_url: str) -> dict[str, Any]:
    webhook = {
        "url": receiver_url,
        "bearer_token": "${MONITOR_TEST_WEBHOOK_TOKEN}",
        "secret_file": "signing.key",
    }
    return monitor_config(
        sim_target("faulty", probes=["create_sync", "delete_cascade"], faults={"skip_cascade": 1}),
        server={"admin_token_file": "admin.token"},
        alerts={"webhooks": [webhook], "evaluation_interval": "1s"},
    )


def bad_config(receiver_url: str) -> dict[str, Any]:
    bad = config(receiver_url)
    bad["server"]["history"] = "${MONITOR_TEST_WEBHOOK_TOKEN}"
    webhook = bad["alerts"]["webhooks"][0]
    webhook["timeout"] = "${MONITOR_TEST_WEBHOOK_TOKEN}"
    webhook["bearer_tokn"] = "${MONITOR_TEST_WEBHOOK_TOKEN}"
    return bad


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret in {where}"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Refuses the first delivery, so the notifier's failure path is logged too."""
    hook = Receiver(statuses=[500])
    await hook.start()
    yield hook
    await hook.close()


def write_secrets(directory: Path) -> None:
    (directory / "admin.token").write_text(f"{ADMIN}\n", encoding="utf-8")
    (directory / "signing.key").write_text(SIGNING, encoding="utf-8")


async def pages(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    """Every GET endpoint's answer, keyed by path; the result pages of the last runs too."""
    answers = {}
    for path in ("/api/status", "/metrics", "/", "/api/alerts", "/api/silences", "/healthz"):
        status, answers[path] = await get_text(http, url + path)
        assert status == 200, path
    async with http.get(f"{url}/api/status") as resp:
        jobs = (await resp.json())["jobs"]
    for seq in (j["last"]["seq"] for j in jobs if j["last"]):
        for path in (f"/results/{seq}", f"/api/results/{seq}"):
            answers[path] = (await get_text(http, url + path))[1]
    return answers


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_secrets_appear_in_no_log_answer_or_error(
    tmp_path: Path, receiver: Receiver, log_format: str
) -> None:
    write_secrets(tmp_path)
    path = write_config(tmp_path / "monitor.yaml", config(receiver.url))
    verbose = ("--log-level", "debug", "--log-format", log_format)
    async with (
        monitor_process(path, tmp_path / "state", *verbose, env=ENV) as monitor,
        aiohttp.ClientSession() as http,
    ):

        async def deliveries() -> list[Delivery]:
            return receiver.accepted()

        await eventually(deliveries, bool, within=20, what="a webhook delivery")
        answers = await pages(http, monitor.url)
        write_config(path, bad_config(receiver.url))
        refused = await post_reload(http, monitor.url, token=ADMIN)
        write_config(path, config(receiver.url))
        accepted = await post_reload(http, monitor.url, token=ADMIN)
    delivery = receiver.accepted()[0]
    assert delivery.headers["Authorization"] == f"Bearer {BEARER}"
    assert delivery.headers["X-Consistency-Signature"]
    assert (refused[0], accepted[0]) == (400, 200), "the admin token works"
    for key in BAD_KEYS:
        assert f"{key}: " in refused[1], key
    for where, text in {**answers, "refused reload": refused[1], "reload": accepted[1]}.items():
        assert_no_secret(where, text)
    log = monitor.log()
    assert "debug" in log.lower(), "the verbose log"
    assert "reload failed" in log and "500 Internal Server Error" in log, "failures are logged"
    assert_no_secret("the log", log)


async def validate(path: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "monitor", "validate", "--config", str(path)),
        cwd=ROOT,
        env={**os.environ, **ENV},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_validate_never_prints_a_secret(tmp_path: Path) -> None:
    write_secrets(tmp_path)
    good = write_config(tmp_path / "good.yaml", config("http://127.0.0.1:9/hook"))
    bad = write_config(tmp_path / "bad.yaml", bad_config("http://127.0.0.1:9/hook"))
    ok, refused = await validate(good), await validate(bad)
    assert ok[0] == 0 and "ok" in ok[1]
    assert refused[0] == 2
    for key in BAD_KEYS:
        assert f"{bad}: {key}: " in refused[1], key
    assert_no_secret("validate output", ok[1] + refused[1])
