"""The label vocabulary of triggers: patterns, resource specifications, event names and
``for_each`` labels (the reference's rules)."""

from __future__ import annotations

import pytest

from automations_app.matching import (
    event_name_pattern,
    find_label,
    label_matches,
    name_matches_any,
    resource_matches,
    specification_includes,
)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.bc", False),
        ("a.*", "a.b", True),
        ("a.*", "a.", True),
        ("a.*", "b.a", False),
        ("*", "", True),
        ("!a.b", "a.c", True),
        ("!a.b", "a.b", False),
        ("!a.*", "a.c", False),
        ("!a.*", "b", True),
        ("a", None, False),
        ("!a", None, False),
    ],
)
def test_label_patterns(pattern: str, value: str | None, expected: bool) -> None:
    assert label_matches(pattern, value) is expected


def test_a_resource_must_match_every_label_of_a_specification() -> None:
    resource = {"prefect.resource.id": "prefect.flow-run.1", "team": "red"}
    assert resource_matches({"prefect.resource.id": "prefect.flow-run.*", "team": ["blue", "red"]}, resource)
    assert not resource_matches({"prefect.resource.id": "prefect.flow-run.*", "team": "blue"}, resource)
    assert not resource_matches({"team": []}, resource)


def test_an_empty_specification_includes_anything_even_nothing() -> None:
    assert specification_includes({}, [])
    assert not specification_includes({"a": "b"}, [])
    assert specification_includes({"a": "b"}, [{"a": "c"}, {"a": "b"}])
    assert specification_includes([{"a": "b"}, {"c": "d"}], [{"a": "b"}, {"c": "d"}])
    assert not specification_includes([{"a": "b"}, {"c": "e"}], [{"a": "b"}, {"c": "d"}])


def test_event_name_patterns_cover_by_prefix_and_need_a_character_for_a_star() -> None:
    pattern = event_name_pattern(["prefect.flow-run.*", "x.Completed"])
    assert pattern.match("prefect.flow-run.Failed")
    assert not pattern.match("prefect.flow-run.")
    assert pattern.match("x.Completed.later")  # anchored at the start only
    assert not event_name_pattern(["!x"]).match("y")
    assert event_name_pattern([]).match("anything")
    assert name_matches_any(["x.*", "!y"], "z")


def test_for_each_labels_read_the_resource_or_the_first_related_of_a_role() -> None:
    resource = {"prefect.resource.id": "r", "a:b": "colon"}
    related = [
        {"prefect.resource.id": "f1", "prefect.resource.role": "flow"},
        {"prefect.resource.id": "f2", "prefect.resource.role": "flow"},
    ]
    assert find_label("prefect.resource.id", resource, related) == "r"
    assert find_label("related:flow:prefect.resource.id", resource, related) == "f1"
    assert find_label("related:tag:prefect.resource.id", resource, related) is None
    assert find_label("a:b", resource, related) == "colon"
