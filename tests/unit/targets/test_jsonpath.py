"""The JSONPath subset the HTTP adapter reads ids and fields with, and writes bodies with."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.targets.jsonpath import EVERY, assign, find_all, find_one, parse

USERS = {
    "users": [
        {"id": "u1", "email": "a@x.test", "profile": {"city": "Oslo"}},
        {"id": "u2", "email": "b@x.test"},
        {"email": "no-id@x.test"},
    ],
    "count": 0,
}


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$", []),
        ("$.id", ["id"]),
        ("$.profile.city", ["profile", "city"]),
        ("$.users[0].id", ["users", 0, "id"]),
        ("$.users[*].id", ["users", EVERY, "id"]),
        ("$['display name']", ["display name"]),
        ("$['a.b'].c", ["a.b", "c"]),
        ("$['*']", ["*"]),
        ("$.x-request_id", ["x-request_id"]),
    ],
)
def test_parse_splits_a_path_into_keys_indices_and_wildcards(path: str, steps: list[Any]) -> None:
    assert parse(path) == steps


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("id", "JSONPath 'id' must start with $"),
        ("users[0]", "JSONPath 'users[0]' must start with $"),
        ("$..id", "JSONPath '$..id': unsupported syntax at '..id'"),
        ("$.users[-1]", "JSONPath '$.users[-1]': unsupported syntax at '[-1]'"),
        ("$.users[?(@.id)]", "JSONPath '$.users[?(@.id)]': unsupported syntax at '[?(@.id)]'"),
        ("$.", "JSONPath '$.': unsupported syntax at '.'"),
        ("$.1st", "JSONPath '$.1st': unsupported syntax at '.1st'"),
        ('$["id"]', """JSONPath '$["id"]': unsupported syntax at '["id"]'"""),
    ],
)
def test_parse_rejects_what_the_subset_does_not_support_naming_the_spot(
    path: str, error: str
) -> None:
    with pytest.raises(ValueError) as raised:
        parse(path)

    assert str(raised.value) == error


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("$", [USERS]),
        ("$.count", [0]),
        ("$.users[1].id", ["u2"]),
        ("$.users[0].profile.city", ["Oslo"]),
        ("$.users[*].id", ["u1", "u2"]),
        ("$.users[*].email", ["a@x.test", "b@x.test", "no-id@x.test"]),
        ("$.users[*].profile.city", ["Oslo"]),
        ("$.users[3].id", []),
        ("$.nothing.here", []),
        ("$.count.deeper", []),
        ("$.users.id", []),
        ("$.users[0][0]", []),
        ("$.count[*]", []),
    ],
)
def test_find_all_selects_every_matching_value_and_skips_what_is_absent(
    path: str, found: list[Any]
) -> None:
    assert find_all(USERS, path) == found


def test_a_quoted_star_is_a_key_not_the_wildcard() -> None:
    document = {"*": "star", "items": ["a", "b"], "odd": {"*": 1}}

    assert find_all(document, "$['*']") == ["star"]
    assert find_all(document, "$.items[*]") == ["a", "b"]
    assert find_all(document, "$.odd[*]") == []  # the wildcard walks lists only


def test_find_all_works_on_a_top_level_list() -> None:
    assert find_all([{"id": 1}, {"id": 2}], "$[*].id") == [1, 2]
    assert find_all([{"id": 1}, {"id": 2}], "$[1].id") == [2]


@pytest.mark.parametrize(
    ("document", "found"),
    [
        ({"id": "u1"}, "u1"),
        ({"id": 0}, 0),
        ({"id": False}, False),
        ({"id": ""}, ""),
        ({"id": {"nested": 1}}, {"nested": 1}),
        ({"id": None}, None),
        ({}, None),
        (None, None),
        ("text", None),
        ([{"id": 1}], None),
    ],
)
def test_find_one_is_the_first_value_and_none_only_when_there_is_none(
    document: Any, found: Any
) -> None:
    assert find_one(document, "$.id") == found


def test_find_one_takes_the_first_of_several() -> None:
    assert find_one(USERS, "$.users[*].id") == "u1"


def test_assign_creates_the_objects_on_the_way() -> None:
    document: dict[str, Any] = {"email": "a@x.test"}

    assign(document, "$.profile.city", "Oslo")
    assign(document, "$.profile.theme", "dark")
    assign(document, "$['display name']", "Ann")

    assert document == {
        "email": "a@x.test",
        "profile": {"city": "Oslo", "theme": "dark"},
        "display name": "Ann",
    }


def test_assign_replaces_a_value_already_there() -> None:
    document: dict[str, Any] = {"profile": {"city": "Oslo"}}

    assign(document, "$.profile.city", "Bergen")

    assert document == {"profile": {"city": "Bergen"}}


@pytest.mark.parametrize("path", ["$", "$.users[0].id", "$.users[*].id", "$[0]"])
def test_assign_writes_only_plain_key_paths(path: str) -> None:
    with pytest.raises(ValueError) as raised:
        assign({}, path, "x")

    assert str(raised.value) == f"JSONPath {path!r}: only $.a.b paths can be written"


def test_a_value_assigned_is_found_again_at_the_same_path() -> None:
    document: dict[str, Any] = {}
    paths = ["$.email", "$.profile.locale", "$.a.b.c", "$['x y'].z"]

    for n, path in enumerate(paths):
        assign(document, path, n)

    assert [find_one(document, p) for p in paths] == [0, 1, 2, 3]
