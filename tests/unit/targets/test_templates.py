"""Templated paths and JSON bodies of the HTTP adapter's operations."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.targets.templates import TemplateError, placeholders, render_body, render_path

VALUES: dict[str, Any] = {
    "id": "u-1",
    "email": "probe-1-ab@consistency-monitor.invalid",
    "display_name": "Ann",
    "profile.city": "Köln",
    "profile.theme": None,  # a field this call does not set
    "fields": {"display_name": "Ann", "profile": {"city": "Köln"}},
    "fail": True,
    "count": 3,
}


# -- paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/admin/users", "/admin/users"),
        ("/admin/users/{id}", "/admin/users/u-1"),
        ("/users/{id}/dependents", "/users/u-1/dependents"),
        (
            "/admin/users?email={email}",
            "/admin/users?email=probe-1-ab%40consistency-monitor.invalid",
        ),
        ("/cities/{profile.city}", "/cities/K%C3%B6ln"),
        ("/flags/{fail}/{count}", "/flags/True/3"),
    ],
)
def test_render_path_fills_in_url_quoted_values(template: str, path: str) -> None:
    assert render_path(template, VALUES) == path


@pytest.mark.parametrize(
    ("user_id", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("../admin", "..%2Fadmin"),
        ("x?y=1#z", "x%3Fy%3D1%23z"),
        ("a b", "a%20b"),
        ("%2F", "%252F"),
    ],
)
def test_an_id_cannot_escape_its_path_segment(user_id: str, segment: str) -> None:
    assert render_path("/admin/users/{id}/x", {"id": user_id}) == f"/admin/users/{segment}/x"


def test_a_path_placeholder_without_a_value_is_a_template_error() -> None:
    with pytest.raises(TemplateError) as raised:
        render_path("/admin/users/{user_id}", VALUES)

    assert str(raised.value) == "template placeholder {user_id} has no value in this call"


def test_braces_that_are_not_a_placeholder_stay_as_written() -> None:
    assert render_path("/a/{}/{1x}/{-}", {}) == "/a/{}/{1x}/{-}"


# -- bodies ----------------------------------------------------------------------------


def test_a_whole_placeholder_takes_the_values_own_json_type() -> None:
    body = {"fail": "{fail}", "count": "{count}", "fields": "{fields}", "email": "{email}"}

    assert render_body(body, VALUES) == {
        "fail": True,
        "count": 3,
        "fields": {"display_name": "Ann", "profile": {"city": "Köln"}},
        "email": "probe-1-ab@consistency-monitor.invalid",
    }


def test_a_placeholder_inside_text_is_formatted_as_text() -> None:
    body = {"name": "{display_name} ({email})", "n": "#{count}", "flag": "is {fail}"}

    assert render_body(body, VALUES) == {
        "name": "Ann (probe-1-ab@consistency-monitor.invalid)",
        "n": "#3",
        "flag": "is True",
    }


def test_nested_objects_and_lists_are_rendered_all_the_way_down() -> None:
    body = {
        "user": {"email": "{email}", "profile": {"city": "{profile.city}"}},
        "tags": ["{id}", "literal", 7, {"who": "{display_name}"}],
    }

    assert render_body(body, VALUES) == {
        "user": {"email": VALUES["email"], "profile": {"city": "Köln"}},
        "tags": ["u-1", "literal", 7, {"who": "Ann"}],
    }


def test_object_members_whose_value_is_unset_are_left_out() -> None:
    body = {"display_name": "{display_name}", "profile": {"theme": "{profile.theme}"}}

    assert render_body(body, VALUES) == {"display_name": "Ann", "profile": {}}


@pytest.mark.parametrize("literal", [None, 0, 1.5, True, "plain", [], {}, {"a": [1, None]}])
def test_literals_pass_through_unchanged(literal: Any) -> None:
    assert render_body(literal, VALUES) == literal


def test_a_body_placeholder_without_a_value_is_a_template_error() -> None:
    with pytest.raises(TemplateError) as raised:
        render_body({"user": {"token": "{token}"}}, VALUES)

    assert str(raised.value) == "template placeholder {token} has no value in this call"


def test_values_are_not_rendered_again() -> None:
    """A value that looks like a template stays as given: data cannot inject placeholders."""
    values = {"display_name": "{email}", "email": "secret@x.test"}

    assert render_body({"a": "{display_name}", "b": "x {display_name}"}, values) == {
        "a": "{email}",
        "b": "x {email}",
    }
    assert render_path("/u/{display_name}", values) == "/u/%7Bemail%7D"


def test_keys_are_not_templates() -> None:
    assert render_body({"{id}": "{id}"}, VALUES) == {"{id}": "u-1"}


# -- placeholders ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("/admin/users/{id}", {"id"}),
        ("/users?email={email}&city={profile.city}", {"email", "profile.city"}),
        ({"user": {"email": "{email}"}, "fail": "{fail}"}, {"email", "fail"}),
        (["{a}", {"b": ["{c}"]}], {"a", "c"}),
        ({"x": "{a} and {a}"}, {"a"}),
        ({}, set()),
        ([], set()),
        (None, set()),
        (42, set()),
        ("no placeholders {}", set()),
    ],
)
def test_placeholders_lists_every_name_a_template_uses(template: Any, names: set[str]) -> None:
    assert placeholders(template) == names
