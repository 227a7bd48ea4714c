"""`simulate`'s options: the config file, flags laid over it, and usage errors (exit 2)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.config import ConfigError
from monitor.simulate_command import UsageError, admin_token, backend_dsn, simulator_config


def options(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["simulate", *argv])


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "sim.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_flags_set_timings_seed_and_faults() -> None:
    config = simulator_config(
        options("--sync-delay", "200ms", "--seed", "7", "--fault", "skip_cascade=1")
    )
    assert (config.sync_delay, config.seed, config.faults.skip_cascade) == (0.2, 7, 1.0)


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "simulator: {auth_latency: 1s, sync_delay: 1s}\n")
    config = simulator_config(options("--config", path, "--sync-delay", "10ms"))
    assert (config.auth_latency, config.sync_delay) == (1.0, 0.01)


def test_one_operation_flag_keeps_the_files_probability_for_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, "simulator: {faults: {drop_sync: 0.1}}\n")
    config = simulator_config(options("--config", path, "--fault", "drop_sync.update=0.5"))
    drop = config.faults.drop_sync
    assert (drop.create, drop.update, drop.delete) == (0.1, 0.5, 0.1)


def test_an_empty_simulator_block_means_the_defaults(tmp_path: Path) -> None:
    config = simulator_config(options("--config", write(tmp_path, "simulator:\n")))
    assert config.auth_latency == 0.05


def test_a_bad_file_names_every_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, "simulator: {sync_dlay: 1s, faults: {skip_cascade: 2}}\n")
    with pytest.raises(ConfigError) as caught:
        simulator_config(options("--config", path))
    assert sorted(caught.value.errors) == [
        "simulator.faults.skip_cascade: must be at most 1",
        "simulator.sync_dlay: unknown key (did you mean sync_delay?)",
    ]


def test_a_monitor_config_is_not_a_simulate_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        simulator_config(options("--config", write(tmp_path, "targets: []\n")))
    assert caught.value.errors == ["targets: unknown key (valid: simulator)"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--backend-dsn", "sqlite:///sim.db"], "--backend-dsn: not a PostgreSQL URL"),
        (["--backend-dsn", "postgresql://db:port/x"], "--backend-dsn: not a PostgreSQL URL"),
        (["--fault", "skip_cascade"], "--fault 'skip_cascade': expected NAME=PROBABILITY"),
        (["--fault", "skip_cascade=often"], "expected NAME=PROBABILITY"),
        (["--auth-listen", "8081"], "expected HOST:PORT"),
    ],
)
def test_bad_usage_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["simulate", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_flag_value_exits_2_naming_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--fault", "drop_sync.update=2"]) == 2
    assert "simulator.faults.drop_sync.update: must be at most 1" in capsys.readouterr().err


def test_the_admin_token_comes_from_the_flag_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIMULATE_ADMIN_TOKEN", "from-env")
    assert (admin_token("from-flag"), admin_token(None)) == ("from-flag", "from-env")
    monkeypatch.setenv("SIMULATE_ADMIN_TOKEN", "")
    assert admin_token(None) is None


def test_the_backend_dsn_comes_from_the_flag_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIMULATE_BACKEND_DSN", "postgresql://env@db/sim")
    assert backend_dsn("postgres://flag@db/sim") == "postgres://flag@db/sim"
    assert backend_dsn(None) == "postgresql://env@db/sim"
    monkeypatch.setenv("SIMULATE_BACKEND_DSN", "")
    assert backend_dsn(None) is None


def test_a_bad_backend_dsn_is_not_repeated_in_the_message() -> None:
    with pytest.raises(UsageError) as caught:
        backend_dsn("mysql://user:s3cret@db/sim")
    assert "s3cret" not in str(caught.value)


def test_an_unreadable_or_broken_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: cannot read: No such file or directory" in capsys.readouterr().err
    assert main(["simulate", "--config", write(tmp_path, "simulator: {a: [}\n")]) == 2
    assert "sim.yaml: line 1, column 17: not valid YAML" in capsys.readouterr().err
