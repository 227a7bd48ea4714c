"""The command line: exit statuses, output formats, probe and target selection."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli import main
from monitor.probes import GROUPS, PROBE_NAMES

CORE = [
    "create_sync", "update_propagation", "delete_cascade", "transaction", "rollback",
    "concurrent", "load",
]  # fmt: skip
INTEGRITY = ["duplicate", "orphan_cleanup", "partial_update"]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def fast_target(name: str = "fast", **faults: float) -> dict[str, Any]:
    simulator = {"auth_latency": "1ms", "sync_delay": "2ms", "seed": 1, "faults": faults}
    return {"name": name, "simulator": simulator}


def write_config(tmp_path: Path, *targets: dict[str, Any]) -> str:
    """A simulator config that runs every probe in well under a second."""
    document = {
        "defaults": {
            "timeout": "10s",
            "deadlines": {"sync": "200ms", "give_up": "500ms", "load": "2s"},
        },
        "targets": list(targets) or [fast_target()],
    }
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


@pytest.fixture
def config(tmp_path: Path) -> str:
    return write_config(tmp_path)


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["check", *args])
    out, err = capsys.readouterr()
    return status, out, err


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    status, out, _ = check(capsys, "--format", "json", *args)
    return status, json.loads(out)


def probes_in(report: dict[str, Any]) -> list[str]:
    return [r["probe"] for r in report["results"]]


# -- exit statuses -------------------------------------------------------------------------


def test_check_exits_0_and_prints_a_row_per_probe_when_all_pass(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    status, out, err = check(capsys, "--config", config)
    lines = out.splitlines()
    assert status == 0, out + err
    assert lines[0].split() == ["TARGET", "PROBE", "OUTCOME", "SYNC", "LATENCY", "TOTAL", "FOUND"]
    assert [line.split()[:3] for line in lines[1:-1]] == [
        ["fast", name, "PASS"] for name in PROBE_NAMES
    ]
    assert lines[-1] == f"{len(PROBE_NAMES)} runs: {len(PROBE_NAMES)} passed, 0 failed, 0 errors"


def test_check_exits_1_when_a_probe_finds_an_inconsistency(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, fast_target(skip_cascade=1))
    status, out, _ = check(capsys, "--config", config, "--probe", "delete_cascade")
    assert status == 1
    assert out.splitlines()[1].split()[:3] == ["fast", "delete_cascade", "FAIL"]
    assert "cascade: " in out


def test_check_exits_1_when_a_probe_cannot_finish(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, fast_target(auth_errors=1))
    status, report = check_json(capsys, "--config", config, "--probe", "create_sync")
    assert status == 1
    assert report["ok"] is False
    assert [r["outcome"] for r in report["results"]] == ["error"]
    assert report["results"][0]["error"]


def test_a_bad_config_exits_2_with_every_problem_and_its_key_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    text = "targets:\n  - name: a\n    simulator: {}\n    probes: {create_sync: {interval: soon}}\n"
    path.write_text(text + "server: {history: 0}\n", encoding="utf-8")
    status, out, err = check(capsys, "--config", str(path))
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        f"{path}: targets[0].probes.create_sync.interval: not a duration "
        "(expected e.g. 500ms, 30s, 5m)",
        f"{path}: server.history: must be at least 1",
    ]


def test_a_missing_config_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = check(capsys, "--config", str(tmp_path / "nope.yaml"))
    assert status == 2
    assert err == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--probe", "create_snyc"],
            f"unknown probe 'create_snyc' (valid: {', '.join([*PROBE_NAMES, *GROUPS])})",
        ),
        (["--target", "slow"], "unknown target 'slow' (valid: fast)"),
        (["--repeat", "0"], "--repeat must be a whole number, at least 1"),
        (["--repeat", "many"], "--repeat must be a whole number, at least 1"),
    ],
    ids=["probe", "target", "repeat-0", "repeat-word"],
)
def test_bad_usage_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], config: str, args: list[str], message: str
) -> None:
    status, out, err = check(capsys, "--config", config, *args)
    assert (status, out) == (2, "")
    assert err == f"consistency-monitor: {message}\n"


def test_choosing_probes_no_target_runs_is_bad_usage(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, {**fast_target(), "probes": ["create_sync"]})
    status, _, err = check(capsys, "--config", config, "--probe", "rollback")
    assert status == 2
    assert err.startswith("consistency-monitor: none of rollback is configured on fast")


# -- JSON ----------------------------------------------------------------------------------


def test_json_output_has_exactly_the_documented_shape(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    status, report = check_json(capsys, "--config", config, "--probe", "update_propagation")
    assert status == 0
    assert set(report) == {"ok", "results"}
    assert report["ok"] is True
    [result] = report["results"]
    assert set(result) == {
        "target", "probe", "outcome", "started_at", "duration_seconds", "syncs", "steps",
        "inconsistencies", "error",
    }  # fmt: skip
    assert (result["target"], result["probe"], result["outcome"]) == (
        "fast",
        "update_propagation",
        "pass",
    )
    assert ISO_MS.match(result["started_at"])
    assert isinstance(result["duration_seconds"], float)
    assert result["syncs"] and all(
        set(s) == {"operation", "seconds", "reads"} for s in result["syncs"]
    )
    assert {s["operation"] for s in result["syncs"]} == {"create", "update"}
    assert result["steps"] and all(set(s) == {"name", "seconds"} for s in result["steps"])
    assert (result["inconsistencies"], result["error"]) == ([], None)


def test_json_inconsistencies_carry_kind_and_detail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, fast_target(skip_cascade=1))
    _, report = check_json(capsys, "--config", config, "--probe", "delete_cascade")
    found = report["results"][0]["inconsistencies"]
    assert [set(i) for i in found] == [{"kind", "detail"}]
    assert found[0]["kind"] == "cascade"


# -- selection -----------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "expected"), [("core", CORE), ("integrity", INTEGRITY)])
def test_a_group_expands_to_its_probes(
    capsys: pytest.CaptureFixture[str], config: str, group: str, expected: list[str]
) -> None:
    _, report = check_json(capsys, "--config", config, "--probe", group)
    assert probes_in(report) == expected


def test_probe_can_be_repeated_and_comma_separated(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    args = ["--probe", "rollback", "--probe", "transaction,create_sync", "--probe", "rollback"]
    _, report = check_json(capsys, "--config", config, *args)
    assert probes_in(report) == ["create_sync", "transaction", "rollback"]  # in config order


def test_target_narrows_the_run_and_rows_are_target_by_probe(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    targets = [fast_target("a"), fast_target("b"), fast_target("c")]
    config = write_config(tmp_path, *targets)
    args = ["--config", config, "--probe", "rollback,transaction"]
    status, out, _ = check(capsys, *args, "--target", "c", "--target", "a")
    rows = [line.split()[:2] for line in out.splitlines()[1:-1]]
    assert status == 0
    assert rows == [
        ["a", "transaction"],
        ["a", "rollback"],
        ["c", "transaction"],
        ["c", "rollback"],
    ]


def test_repeat_prints_success_rates_and_percentiles(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    status, out, _ = check(capsys, "--config", config, "--probe", "create_sync", "--repeat", "3")
    lines = out.splitlines()
    assert status == 0
    assert lines[0].split() == [
        "TARGET", "PROBE", "RUNS", "SUCCESS", "FAIL", "ERROR", "TOTAL", "P50", "SYNC", "LATENCY",
    ]  # fmt: skip
    assert lines[1].split()[:6] == ["fast", "create_sync", "3", "100.0%", "0", "0"]
    assert re.search(r"create p50 [\d.]+ms p99 [\d.]+ms$", lines[1])
    assert lines[2] == "3 runs: 3 passed, 0 failed, 0 errors"


def test_repeat_adds_a_summary_to_json(capsys: pytest.CaptureFixture[str], config: str) -> None:
    args = ["--config", config, "--probe", "create_sync,rollback", "--repeat", "3"]
    _, report = check_json(capsys, *args)
    assert len(report["results"]) == 6
    summary = report["summary"]
    assert [(s["probe"], s["runs"], s["success_ratio"]) for s in summary] == [
        ("create_sync", 3, 1.0),
        ("rollback", 3, 1.0),
    ]
    latency = summary[0]["sync_latency"]["create"]
    assert set(latency) == {"p50_seconds", "p99_seconds", "observations", "never"}
    assert latency["observations"] == 3
    assert latency["p50_seconds"] <= latency["p99_seconds"]


def test_the_config_comes_from_the_environment_when_not_given(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", write_config(tmp_path, fast_target("from-env")))
    status, out, _ = check(capsys, "--probe", "rollback")
    assert status == 0
    assert out.splitlines()[1].split()[:2] == ["from-env", "rollback"]


def test_check_help_lists_probes_groups_and_exit_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert exited.value.code == 0
    assert ", ".join(PROBE_NAMES) in out
    assert f"core {', '.join(CORE)}" in out
    assert f"integrity {', '.join(INTEGRITY)}" in out
    assert "$MONITOR_CONFIG" in out
    assert "exit status: 0 every probe passed" in out


# -- validate and schema -------------------------------------------------------------------


def test_validate_prints_ok_for_a_good_config(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    assert main(["validate", "--config", config]) == 0
    assert capsys.readouterr().out == f"{config}: ok: 1 target(s), 10 probe(s) scheduled\n"


def test_validate_checks_every_file_given_and_fails_if_one_is_bad(
    capsys: pytest.CaptureFixture[str], config: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: [{name: a}]\n", encoding="utf-8")
    assert main(["validate", config, str(bad), config]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{config}: ok: 1 target(s), 10 probe(s) scheduled"] * 2
    expected = "targets[0]: a target needs a `simulator:` block, or `auth:` and `backend:`"
    assert err == f"{bad}: {expected}\n"


def test_validate_prints_every_error_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("targets: []\nbogus: 1\n", encoding="utf-8")
    assert main(["validate", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: targets: must not be empty",
        f"{path}: bogus: unknown key (valid: defaults, targets, server, alerts)",
    ]


def test_validate_uses_the_embedded_default_without_a_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("ok")


def test_schema_prints_a_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object"
    assert schema["required"] == ["targets"]
    assert schema["additionalProperties"] is False


# -- as a real process ---------------------------------------------------------------------


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_python_dash_m_monitor_check_passes(config: str) -> None:
    done = run_module("check", "--config", config, "--probe", "create_sync,rollback")
    assert done.returncode == 0, done.stderr
    assert [line.split()[1] for line in done.stdout.splitlines()[1:-1]] == [
        "create_sync",
        "rollback",
    ]


def test_python_dash_m_monitor_reports_bad_usage_on_stderr(config: str) -> None:
    done = run_module("check", "--config", config, "--target", "nope")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "consistency-monitor: unknown target 'nope' (valid: fast)\n"
