"""How an update that did not fully arrive is named: missing, stale, partial."""

from __future__ import annotations

from monitor.probes._expect import differing, matches, update_kinds

V1 = {"a": "a1", "b": "b1", "c": "c1"}
V2 = {"a": "a2", "b": "b2", "c": "c1"}  # the update changed a and b
V3 = {"a": "a3", "b": "b3", "c": "c1"}


def test_no_record_is_missing() -> None:
    assert update_kinds([V1], V2, None) == ["missing"]


def test_a_record_still_at_the_version_before_is_stale() -> None:
    assert update_kinds([V1], V2, V1) == ["stale"]


def test_a_record_at_an_older_version_than_the_one_before_is_stale() -> None:
    assert update_kinds([V1, V2], V3, V1) == ["stale"]


def test_an_update_applied_to_some_of_its_fields_is_partial() -> None:
    assert update_kinds([V1], V2, {**V2, "b": "b1"}) == ["partial"]


def test_an_update_that_clobbered_an_untouched_field_is_partial() -> None:
    assert update_kinds([V1], V2, {**V2, "c": ""}) == ["partial"]


def test_an_update_that_never_arrived_on_a_clobbered_record_is_stale_and_partial() -> None:
    assert update_kinds([V1], V2, {**V1, "c": ""}) == ["stale", "partial"]


def test_a_mix_of_two_older_versions_is_stale_and_partial() -> None:
    assert update_kinds([V1, V2], V3, {**V2, "b": "b1"}) == ["stale", "partial"]


def test_differing_lists_every_expected_field_a_record_does_not_show() -> None:
    assert differing({**V2, "b": "x"}, V2) == ["b"]
    assert differing(None, V2) == ["a", "b", "c"]


def test_a_record_matches_when_it_shows_every_expected_value() -> None:
    assert matches({"a": "a2"})({**V2, "extra": "x"})
    assert not matches(V2)(None)
