"""Compound (``require``: any, all, n) and sequence triggers over child triggers, with the
child firings they keep between passes."""

from __future__ import annotations

from typing import Any

import pytest

from automations_app.models import CompositeTriggerChildFiring
from tests.automations.trigger_helpers import (
    automation,
    composite_trigger,
    event_trigger,
    firings,
    proact,
    react,
    send,
    triggered_events,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _children(*names: str) -> list[dict[str, Any]]:
    return [event_trigger(expect=[name]) for name in names]


def _fired_children(firing: dict[str, Any]) -> list[list[str]]:
    return [child["trigger"]["expect"] for child in firing["firing"]["triggering_firings"]]


def test_any_fires_with_the_first_child_and_emits_the_composite_shape() -> None:
    auto = automation(composite_trigger("compound", _children("x.a", "x.b"), require="any"), name="any")
    send("x.b", 0)
    react(1)
    [firing] = firings(auto)
    assert _fired_children(firing) == [["x.b"]]
    assert firing["firing"]["trigger"]["type"] == "compound"
    assert firing["triggering_event"] is None
    assert not CompositeTriggerChildFiring.objects.exists()
    [event] = triggered_events()
    assert event.resource == {"prefect.resource.id": f"prefect.automation.{auto.id}", "prefect.resource.name": "any"}
    assert event.related == []
    assert event.payload == {"triggering_labels": {}, "triggering_event": None}


def test_all_waits_for_every_child_and_then_starts_over() -> None:
    auto = automation(composite_trigger("compound", _children("x.a", "x.b"), require="all", within=60.0))
    send("x.a", 0)
    send("x.a", 1)  # the same child again replaces its kept firing
    react(2)
    assert firings(auto) == []
    assert CompositeTriggerChildFiring.objects.count() == 1
    send("x.b", 10)
    react(11)
    [firing] = firings(auto)
    assert sorted(_fired_children(firing)) == [["x.a"], ["x.b"]]
    assert not CompositeTriggerChildFiring.objects.exists()
    send("x.b", 20)
    react(21)
    assert len(firings(auto)) == 1


def test_a_child_firing_older_than_the_parents_window_no_longer_counts() -> None:
    auto = automation(composite_trigger("compound", _children("x.a", "x.b"), require="all", within=60.0))
    send("x.a", 0)
    react(1)
    send("x.b", 100)
    react(101)
    assert firings(auto) == []
    send("x.a", 120)
    react(121)
    assert len(firings(auto)) == 1


def test_a_number_of_children_fires_when_that_many_fired() -> None:
    auto = automation(composite_trigger("compound", _children("x.a", "x.b", "x.c"), require=2))
    send("x.c", 0)
    react(1)
    assert firings(auto) == []
    send("x.a", 2)
    react(3)
    [firing] = firings(auto)
    assert sorted(_fired_children(firing)) == [["x.a"], ["x.c"]]


def test_a_sequence_fires_only_when_its_children_fired_in_order() -> None:
    auto = automation(composite_trigger("sequence", _children("x.a", "x.b"), within=300.0))
    send("x.b", 0)
    react(1)
    send("x.a", 2)
    react(3)
    assert firings(auto) == []  # b then a
    send("x.b", 4)
    react(5)  # the newer b follows a
    [firing] = firings(auto)
    assert _fired_children(firing) == [["x.a"], ["x.b"]]


def test_children_firing_in_one_pass_keep_their_order() -> None:
    auto = automation(composite_trigger("sequence", _children("x.a", "x.b")))
    send("x.a", 0)
    send("x.b", 1)
    react(2)
    assert len(firings(auto)) == 1


def test_a_proactive_child_fires_its_parent_on_the_clock() -> None:
    proactive = event_trigger(expect=["x.b"], posture="Proactive", within=10.0)
    auto = automation(composite_trigger("compound", [event_trigger(expect=["x.a"]), proactive], within=60.0))
    proact(0)
    send("x.a", 1)
    react(2)
    assert firings(auto) == []
    assert proact(10) == 1
    [firing] = firings(auto)
    assert len(firing["firing"]["triggering_firings"]) == 2


def test_nested_composites_fire_through_each_level() -> None:
    inner = composite_trigger("compound", _children("x.a", "x.b"), require="all")
    auto = automation(composite_trigger("sequence", [inner, event_trigger(expect=["x.c"])]))
    send("x.b", 0)
    send("x.a", 1)
    send("x.c", 2)
    react(3)
    [firing] = firings(auto)
    inner_firing = firing["firing"]["triggering_firings"][0]
    assert inner_firing["trigger"]["id"] == inner["id"]
    assert len(inner_firing["triggering_firings"]) == 2
