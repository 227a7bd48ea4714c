"""compose.yaml is a valid Compose file whose services are wired to each other and whose
mounted files exist and pass their own tools.

No container engine runs here, so the stack is checked instead of started: the
`compose-spec` validator (the Rust compose_spec crate's parser, no daemon), then what it
leaves out: references between services and volumes, every bind mount's source, every
host:port a mounted config names, `promtool check config` and `amtool check-config` on
the configs Prometheus and Alertmanager are told to load, `consistency-monitor validate`
on the monitor's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose
from support.components import require_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
MONITOR_CONFIG = "/etc/consistency-monitor/monitor.yaml"  # the image's MONITOR_CONFIG
MONITOR_PORT = 9465
URL_HOST = re.compile(r"https?://([A-Za-z0-9.-]+):(\d+)")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax."""
    found = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            found.append((entry["source"], entry["target"]))
        else:
            source, target = entry.split(":")[:2]
            found.append((source, target))
    return found


def binds(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """Bind mounts: (host path in the repository, container path)."""
    return [(ROOT / s, t) for s, t in mounts(service) if s.startswith((".", "/"))]


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """The repository file a container path comes from, through the service's binds."""
    wanted = PurePosixPath(container_path)
    for source, target in binds(service):
        if wanted == PurePosixPath(target) or PurePosixPath(target) in wanted.parents:
            return source / wanted.relative_to(target)
    raise AssertionError(f"{container_path} is not mounted from the repository")


def flag(service: dict[str, Any], name: str) -> str:
    """The value of `--name=value` in the service's command."""
    for arg in service["command"]:
        if arg.startswith(f"--{name}="):
            return str(arg.split("=", 1)[1])
    raise AssertionError(f"--{name} not in {service['command']}")


def run_tool(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=120, check=False
    )


def test_compose_file_passes_the_compose_spec_validator() -> None:
    parsed = PyCompose.from_yaml(COMPOSE.read_text())
    parsed.validate()
    assert set(parsed.service_names()) == set(services())


def test_services_depend_only_on_services_and_use_declared_volumes() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in services().items():
        assert set(service.get("depends_on", [])) <= set(services()), name
        named = {s for s, _ in mounts(service) if not s.startswith((".", "/"))}
        assert named <= declared, f"{name}: undeclared volumes {named - declared}"


def test_every_bind_mount_source_exists_in_the_repository() -> None:
    missing = [
        f"{name}: {source.relative_to(ROOT)}"
        for name, service in services().items()
        for source, _ in binds(service)
        if not source.exists()
    ]
    assert missing == []


def test_mounted_configs_name_only_services_of_the_stack() -> None:
    """Every http://host:port and Prometheus target in the mounted YAML configs is a
    compose service (the monitor on its port): the stack is wired to itself."""
    hosts = {
        found
        for service in services().values()
        for source, _ in binds(service)
        for path in ([source] if source.is_file() else sorted(source.rglob("*")))
        if path.suffix in (".yml", ".yaml")
        for found in addresses(yaml.safe_load(path.read_text()))
    }
    assert {host for host, _ in hosts} <= set(services()), hosts
    assert ("consistency-monitor", str(MONITOR_PORT)) in hosts


def addresses(node: Any) -> set[tuple[str, str]]:
    """(host, port) of every URL and `targets` entry in a parsed YAML document."""
    found: set[tuple[str, str]] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "targets" and isinstance(value, list):
                found |= {host_port(t) for t in value if isinstance(t, str) and ":" in t}
            found |= addresses(value)
    elif isinstance(node, list):
        for item in node:
            found |= addresses(item)
    elif isinstance(node, str):
        found |= set(URL_HOST.findall(node))
    return found


def host_port(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host, port


def test_prometheus_config_it_loads_passes_promtool() -> None:
    prometheus = services()["prometheus"]
    config = host_path(prometheus, flag(prometheus, "config.file"))
    result = run_tool(require_binary("promtool", package="prometheus"), "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_alertmanager_config_it_loads_passes_amtool() -> None:
    alertmanager = services()["alertmanager"]
    config = host_path(alertmanager, flag(alertmanager, "config.file"))
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    result = run_tool(amtool, "check-config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_monitor_config_it_loads_is_valid_without_warnings() -> None:
    config = host_path(services()["consistency-monitor"], MONITOR_CONFIG)
    result = run_tool(sys.executable, "-m", "monitor", "validate", config)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_monitor_config_probes_the_examples_targets_at_the_simulate_service() -> None:
    """deploy/compose/monitor.yaml = faulty-simulator.yaml's targets + http-sim.yaml's, the
    latter pointed at `simulate` instead of 127.0.0.1: no drift from the examples."""
    examples = ROOT / "config" / "examples"
    expected = yaml.safe_load((examples / "faulty-simulator.yaml").read_text())["targets"]
    for target in yaml.safe_load((examples / "http-sim.yaml").read_text())["targets"]:
        for side in ("auth", "backend"):
            target[side]["base_url"] = target[side]["base_url"].replace("127.0.0.1", "simulate")
        expected.append(target)
    config = host_path(services()["consistency-monitor"], MONITOR_CONFIG)
    assert yaml.safe_load(config.read_text())["targets"] == expected


def test_grafana_provisions_the_datasource_and_the_dashboards_directory() -> None:
    grafana = services()["grafana"]
    provisioning = host_path(grafana, "/etc/grafana/provisioning/dashboards")
    providers = [
        provider
        for path in sorted(provisioning.glob("*.y*ml"))
        for provider in yaml.safe_load(path.read_text())["providers"]
    ]
    assert providers, "no dashboard provider"
    for provider in providers:
        assert host_path(grafana, provider["options"]["path"]) == ROOT / "dashboards"
    datasources = host_path(grafana, "/etc/grafana/provisioning/datasources")
    sources = [
        source
        for path in sorted(datasources.glob("*.y*ml"))
        for source in yaml.safe_load(path.read_text())["datasources"]
    ]
    assert [s["type"] for s in sources if s.get("isDefault")] == ["prometheus"]


def test_webhook_receiver_script_is_mounted_where_its_entrypoint_runs_it() -> None:
    receiver = services()["webhook-receiver"]
    script = receiver["entrypoint"][-1]
    assert host_path(receiver, script).is_file()
