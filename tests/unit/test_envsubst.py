"""`${VAR}` interpolation and `*_file` secrets on the raw YAML tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.envsubst import (
    ConfigError,
    expand_env,
    inline_secret_files,
    interpolate,
    read_secret_files,
)

SECRETS = frozenset({"admin_token", "password"})


def test_variables_are_replaced_in_every_string_at_any_depth() -> None:
    data = {"a": "${X}", "b": [{"c": "pre-${X}-${Y}"}], "d": 5, "e": None}
    assert interpolate(data, {"X": "1", "Y": "2"}) == {
        "a": "1",
        "b": [{"c": "pre-1-2"}],
        "d": 5,
        "e": None,
    }


def test_a_value_is_not_interpolated_twice() -> None:
    assert interpolate({"a": "${X}"}, {"X": "${Y}", "Y": "no"}) == {"a": "${Y}"}


def test_text_that_is_not_a_reference_is_kept() -> None:
    data = {"a": "$X ${} ${1X} $${", "b": "cost: $5"}
    assert interpolate(data, {"X": "no"}) == data


def test_an_empty_variable_is_an_empty_string_but_an_unset_one_is_an_error() -> None:
    assert interpolate({"a": "${X}"}, {"X": ""}) == {"a": ""}
    with pytest.raises(ConfigError) as caught:
        interpolate({"a": "${X}"}, {})
    assert caught.value.errors == ["a: environment variable X is not set"]


def test_every_unset_variable_is_reported_with_its_key_path() -> None:
    data = {"targets": [{"name": "${A}"}, {"name": "x", "tags": ["${B}", "${C}"]}]}
    _, errors = expand_env(data, {"C": "ok"})
    assert errors == [
        "targets[0].name: environment variable A is not set",
        "targets[1].tags[0]: environment variable B is not set",
    ]


def test_interpolation_errors_carry_the_file_as_their_source() -> None:
    with pytest.raises(ConfigError) as caught:
        interpolate({"a": "${X}"}, {}, source="/etc/monitor.yaml")
    assert caught.value.source == "/etc/monitor.yaml"
    assert str(caught.value) == "/etc/monitor.yaml: a: environment variable X is not set"


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_TEST_VALUE", "from-env")
    assert interpolate({"a": "${MONITOR_TEST_VALUE}"}) == {"a": "from-env"}


def test_a_secret_file_becomes_the_secret_field(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("  hunter2\n", encoding="utf-8")
    data = {"server": {"admin_token_file": "token", "listen": "x"}}
    assert read_secret_files(data, tmp_path, SECRETS) == {
        "server": {"admin_token": "hunter2", "listen": "x"}
    }


def test_secret_files_are_found_inside_lists(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("pw", encoding="utf-8")
    data = {"targets": [{"sql": {"password_file": "pw"}}]}
    assert read_secret_files(data, tmp_path, SECRETS) == {"targets": [{"sql": {"password": "pw"}}]}


def test_file_keys_of_fields_that_are_not_secrets_are_left_alone(tmp_path: Path) -> None:
    data = {"tls": {"ca_file": "ca.pem", "motd_file": "motd"}}
    assert read_secret_files(data, tmp_path, SECRETS) == data


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("nope", "server.admin_token_file: cannot read nope: No such file or directory"),
        (".", "server.admin_token_file: cannot read .: Is a directory"),
        ("", "server.admin_token_file: expected a file path"),
        (5, "server.admin_token_file: expected a file path"),
    ],
)
def test_a_secret_file_that_cannot_be_read_is_an_error(
    tmp_path: Path, value: object, error: str
) -> None:
    _, errors = inline_secret_files({"server": {"admin_token_file": value}}, tmp_path, SECRETS)
    assert errors == [error]


def test_a_secret_given_inline_and_as_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("from-file", encoding="utf-8")
    data = {"server": {"admin_token": "inline", "admin_token_file": "t"}}
    with pytest.raises(ConfigError) as caught:
        read_secret_files(data, tmp_path, SECRETS, source="m.yaml")
    assert caught.value.source == "m.yaml"
    assert caught.value.errors == [
        "server.admin_token_file: give either admin_token or admin_token_file, not both"
    ]
    assert "from-file" not in str(caught.value)


def test_a_file_that_is_not_text_is_an_error_without_its_content(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"\xff\xfesecret")
    _, errors = inline_secret_files({"admin_token_file": "bin"}, tmp_path, SECRETS)
    assert errors == ["admin_token_file: bin is not UTF-8 text"]
