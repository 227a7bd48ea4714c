"""Key paths from pydantic's error locations: only what the user typed survives."""

from __future__ import annotations

import pytest

from monitor.config import SECRET_FIELDS, Config
from monitor.config_errors import (
    allowed_keys_at,
    document_parts,
    format_path,
    secret_fields,
)

DOCUMENT = {
    "targets": [
        {"name": "a", "probes": {"create_sync": {"interval": "x"}}},
        {"name": "b", "probes": ["load"]},
    ],
    "server": {"admin_token_file": "t"},
    "faults": {"drop_sync": 2},
}


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (
            ("targets", 0, "probes", "function-before[probe_map(), nullable[dict[str,...]]]",
             "create_sync", "function-before[_duration(), float]", "interval"),
            "targets[0].probes.create_sync.interval",
        ),
        (
            ("targets", 0, "probes", "dict[str,nullable[ProbeOverrides]]", "create_sync",
             "ProbeOverrides", "interval", "function-before[_duration(), float]"),
            "targets[0].probes.create_sync.interval",
        ),
        (("targets", 0, "probes", "nope", "[key]"), "targets[0].probes"),
        (("targets", 1, "probes", "load", "interval"), "targets[1].probes.load"),
        (("server", "admin_token"), "server.admin_token_file"),
        (("faults", "drop_sync", "create"), "faults.drop_sync"),
        (("targets", 5, "name"), "targets"),
    ],
    ids=["function-wrapper", "dict-and-member", "key", "list-became-map", "secret-file",
         "shorthand", "out-of-range"],
)  # fmt: skip
def test_only_parts_present_in_the_document_make_the_path(
    loc: tuple[int | str, ...], path: str
) -> None:
    assert format_path(document_parts(loc, DOCUMENT)) == path


def test_a_missing_key_keeps_its_name() -> None:
    parts = document_parts(("targets", 0, "simulator"), DOCUMENT, keep_last=True)
    assert format_path(parts) == "targets[0].simulator"


def test_int_keys_of_a_mapping_are_not_indexes() -> None:
    assert format_path(document_parts((1,), {1: "x"})) == "1"
    assert format_path(["a", 0, "b", 2]) == "a[0].b[2]"


@pytest.mark.parametrize(
    ("parts", "keys"),
    [
        ((), ["defaults", "targets", "server", "alerts"]),
        (("defaults", "deadlines"), ["sync", "give_up", "load"]),
        (("targets", 3, "probes", "load", "deadlines"), ["sync", "give_up", "load"]),
        (("targets", 0, "simulator", "faults", "drop_sync"), ["create", "update", "delete"]),
        (("server",), ["listen", "external_url", "admin_token", "history", "admin_token_file"]),
        (("targets", 0, "name"), []),
        (("nowhere",), []),
    ],
)
def test_the_keys_allowed_under_a_path(parts: tuple[int | str, ...], keys: list[str]) -> None:
    assert allowed_keys_at(Config, parts) == keys


def test_aliased_keys_are_listed_under_the_name_the_user_types() -> None:
    assert allowed_keys_at(Config, ("alerts", "rules", "sync_latency"))[:2] == ["enabled", "for"]


def test_secret_fields_are_found_at_any_depth() -> None:
    assert "admin_token" in SECRET_FIELDS
    assert secret_fields(Config) == SECRET_FIELDS
    assert "name" not in SECRET_FIELDS
