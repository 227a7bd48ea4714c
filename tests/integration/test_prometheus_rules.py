"""The shipped Prometheus and Alertmanager configs pass the real tools, and match the engine.

Runs `promtool` and `amtool` on config/prometheus and config/alertmanager: the rule
files check clean, the configs load, every promtool unit test passes, every alert is
tested firing, and every alert the built-in engine can raise has a Prometheus twin.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.components import require_binary

from monitor.alerts.config import CRITICAL_KINDS
from monitor.alerts.engine import _RULE_OF  # the engine's alertname → rule map

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "config" / "prometheus"
RULE_FILES = [PROMETHEUS / "recording-rules.yml", PROMETHEUS / "alerting-rules.yml"]
ALERTING_RULES = PROMETHEUS / "alerting-rules.yml"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "config" / "alertmanager" / "alertmanager.yml"
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))


def run_tool(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, capturing its output as text."""
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=120, check=False
    )


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def promtool() -> str:
    return require_binary("promtool", package="prometheus")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alerting_rules() -> list[dict[str, Any]]:
    groups = load_yaml(ALERTING_RULES)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def alerts_tested_firing() -> set[str]:
    """Alert names some promtool test expects to fire (a non-empty `exp_alerts`)."""
    return {
        case["alertname"]
        for path in TEST_FILES
        for group in load_yaml(path)["tests"]
        for case in group.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }


def test_rule_files_check_clean_with_every_lint() -> None:
    result = run_tool(promtool(), "check", "rules", "--lint=all", "--lint-fatal", *RULE_FILES)
    assert result.returncode == 0, output_of(result)
    text = (result.stdout + result.stderr).lower()
    assert "warn" not in text and "duplicate" not in text, output_of(result)
    assert text.count("success") == len(RULE_FILES), output_of(result)


def test_prometheus_config_loads_with_its_rule_files() -> None:
    result = run_tool(
        promtool(), "check", "config", "--lint=all", "--lint-fatal", PROMETHEUS_CONFIG
    )
    assert result.returncode == 0, output_of(result)
    assert "2 rule files found" in result.stdout, output_of(result)


def test_alertmanager_config_is_valid() -> None:
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    result = run_tool(amtool, "check-config", ALERTMANAGER_CONFIG)
    assert result.returncode == 0, output_of(result)
    assert "SUCCESS" in result.stdout, output_of(result)


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("alertname=ConsistencyInconsistency", "severity=critical", "kind=cascade"), "critical"),
        (("alertname=ConsistencyProbeStale", "severity=warning"), "warning"),
        (("alertname=SomethingElse",), "default"),
    ],
)
def test_alertmanager_routes_by_severity(labels: tuple[str, ...], receiver: str) -> None:
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    result = run_tool(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert result.returncode == 0, output_of(result)


def test_there_are_promtool_unit_tests() -> None:
    assert len(TEST_FILES) >= 2, f"no promtool tests in {PROMETHEUS / 'tests'}"


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    result = run_tool(promtool(), "test", "rules", test_file)
    assert result.returncode == 0, output_of(result)
    assert "FAILED" not in result.stdout + result.stderr, output_of(result)


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_load_the_shipped_rule_files(test_file: Path) -> None:
    listed = {(test_file.parent / f).resolve() for f in load_yaml(test_file)["rule_files"]}
    assert listed == set(RULE_FILES)


def test_every_alert_is_tested_firing() -> None:
    defined = {rule["alert"] for rule in alerting_rules()}
    untested = defined - alerts_tested_firing()
    assert not untested, f"alerts no promtool test expects to fire: {sorted(untested)}"


def test_every_builtin_alert_has_a_prometheus_rule() -> None:
    defined = {rule["alert"] for rule in alerting_rules()}
    missing = set(_RULE_OF) - defined
    assert not missing, f"built-in alerts without a rule in {ALERTING_RULES.name}: {missing}"


def test_inconsistency_severity_follows_the_engines_critical_kinds() -> None:
    rules = [r for r in alerting_rules() if r["alert"] == "ConsistencyInconsistency"]
    kinds = "|".join(CRITICAL_KINDS)
    by_severity = {r["labels"]["severity"]: r["expr"] for r in rules}
    assert f'kind=~"{kinds}"' in by_severity["critical"]
    assert f'kind!~"{kinds}"' in by_severity["warning"]
    assert len(rules) == 2


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    for rule in alerting_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]
        assert "$value" in rule["annotations"]["description"], rule["alert"]
