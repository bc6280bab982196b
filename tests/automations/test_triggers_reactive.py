"""Reactive event triggers: which events they cover, how they count them in windows, and
what a firing leaves behind (the reference's semantics, time under the tests' control)."""

from __future__ import annotations

import pytest

from automations_app.models import ActionRun, AutomationBucket
from events_app.models import Event
from tests.automations.trigger_helpers import (
    DO_NOTHING,
    automation,
    event_trigger,
    firings,
    react,
    send,
    triggered_events,
    triggering_event_ids,
)

pytestmark = pytest.mark.django_db(transaction=True)

FAILED = "prefect.flow-run.Failed"


def test_a_matching_event_fires_once_with_the_references_event_and_action_rows() -> None:
    auto = automation(
        event_trigger(match={"prefect.resource.id": "prefect.flow-run.*"}, expect=[FAILED]),
        name="on failure",
        actions=[DO_NOTHING, {"type": "cancel-flow-run"}],
        actions_on_trigger=[{"type": "pause-automation", "source": "selected", "automation_id": None}],
    )
    failed = send(FAILED, 0, related=[{"prefect.resource.id": "prefect.flow.9", "prefect.resource.role": "flow"}])
    send("prefect.flow-run.Completed", 1)

    assert react(2) == 2
    assert react(3) == 1  # the log is read once: now only the automation's own event
    assert react(4) == 0

    [triggered] = triggered_events()
    assert triggered.resource == {
        "prefect.resource.id": f"prefect.automation.{auto.id}",
        "prefect.resource.name": "on failure",
        "prefect.posture": "Reactive",
    }
    assert triggered.related == [
        {"prefect.resource.id": f"prefect.event.{failed}", "prefect.resource.role": "triggering-event"}
    ]
    assert triggered.payload["triggering_labels"] == {}
    assert triggered.payload["triggering_event"]["id"] == str(failed)
    assert triggered.payload["triggering_event"]["related"][0]["prefect.resource.role"] == "flow"

    runs = list(ActionRun.objects.order_by("action_index"))
    assert [(run.action_index, run.action["type"], run.phase) for run in runs] == [
        (0, "do-nothing", "triggered"),
        (1, "cancel-flow-run", "triggered"),
        (2, "pause-automation", "triggered"),
    ]
    assert {run.status for run in runs} == {ActionRun.Status.PENDING}
    firing = runs[0].firing
    assert firing["automation"]["id"] == str(auto.id)
    assert firing["automation"]["name"] == "on failure"
    assert firing["triggering_event"]["event"] == FAILED
    assert firing["firing"]["trigger"] == auto.trigger
    assert firing["firing"]["trigger_states"] == ["Triggered"]
    assert firing["firing"]["triggering_event"]["id"] == str(failed)
    # actions_on_trigger see the automation's own triggered event as theirs.
    assert runs[2].firing["triggering_event"]["id"] == str(triggered.uuid)
    assert runs[2].firing["triggering_event"]["event"] == "prefect.automation.triggered"


@pytest.mark.parametrize(
    ("trigger", "event", "fires"),
    [
        ({"expect": [FAILED]}, {"name": FAILED}, True),
        ({"expect": ["prefect.flow-run.*"]}, {"name": FAILED}, True),
        ({"expect": ["prefect.flow-run.Completed"]}, {"name": FAILED}, False),
        ({"expect": []}, {"name": "anything.at.all"}, True),
        # A negated name never covers an event (it is no operator of the name pattern).
        ({"expect": ["!prefect.flow-run.Completed"]}, {"name": FAILED}, False),
        ({"match": {"prefect.resource.id": "prefect.flow-run.1"}}, {"name": FAILED}, True),
        ({"match": {"prefect.resource.id": "prefect.flow-run.2"}}, {"name": FAILED}, False),
        ({"match": {"prefect.resource.id": ["prefect.flow-run.2", "prefect.flow-run.1"]}}, {"name": FAILED}, True),
        ({"match": {"prefect.resource.id": "!prefect.flow-run.2"}}, {"name": FAILED}, True),
        ({"match": {"prefect.resource.id": "!prefect.flow-run.*"}}, {"name": FAILED}, False),
        ({"match": {"team": "!blue"}}, {"name": FAILED}, False),  # a missing label matches nothing
        ({"match": {"team": "red*"}}, {"name": FAILED, "labels": {"team": "red-1"}}, True),
        ({"match_related": {"prefect.resource.role": "flow"}}, {"name": FAILED}, False),
        (
            {"match_related": {"prefect.resource.role": "flow", "prefect.resource.id": "prefect.flow.*"}},
            {"name": FAILED, "related": [{"prefect.resource.id": "prefect.flow.7", "prefect.resource.role": "flow"}]},
            True,
        ),
        (
            {"match_related": {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.flow.*"}},
            {"name": FAILED, "related": [{"prefect.resource.id": "prefect.flow.7", "prefect.resource.role": "flow"}]},
            False,
        ),
    ],
)
def test_which_events_a_trigger_covers(trigger: dict, event: dict, fires: bool) -> None:
    automation(event_trigger(**trigger))
    send(event["name"], 0, labels=event.get("labels"), related=event.get("related"))
    react(1)
    assert len(firings()) == (1 if fires else 0)


def test_log_writes_are_never_evaluated() -> None:
    automation(event_trigger(expect=[]))
    send("prefect.log.write", 0)
    react(1)
    assert firings() == []


def test_threshold_within_a_window_fires_on_the_nth_event_then_waits_for_the_windows_end() -> None:
    auto = automation(event_trigger(expect=[FAILED], threshold=3, within=60.0))
    ids = [send(FAILED, seconds) for seconds in (0, 10, 20, 30, 50, 65, 70, 80)]
    react(100)
    # Fired by the 3rd; 30 and 50 fall in the fired window's rest, ignored; the next
    # window is [60, 120): 65, 70, 80 fire it.
    assert triggering_event_ids(auto) == [str(ids[2]), str(ids[7])]


def test_events_spread_wider_than_the_window_do_not_fire() -> None:
    auto = automation(event_trigger(expect=[FAILED], threshold=2, within=30.0))
    for seconds in (0, 40, 80):
        send(FAILED, seconds)
    react(90)
    assert firings(auto) == []
    [bucket] = AutomationBucket.objects.all()
    assert bucket.count == 1  # the window the 80 s event opened


def test_without_a_window_each_expected_event_fires() -> None:
    auto = automation(event_trigger(expect=[FAILED]))
    ids = [send(FAILED, seconds) for seconds in (0, 0, 1)]
    react(2)
    assert triggering_event_ids(auto) == [str(event_id) for event_id in ids]
    assert not AutomationBucket.objects.exists()


def test_without_a_window_a_threshold_counts_until_it_is_met() -> None:
    auto = automation(event_trigger(expect=[FAILED], threshold=2))
    ids = [send(FAILED, seconds) for seconds in (0, 5, 10, 15, 20)]
    react(30)
    assert triggering_event_ids(auto) == [str(ids[1]), str(ids[3])]


def test_for_each_counts_each_bucket_apart_and_labels_the_firing() -> None:
    auto = automation(
        event_trigger(
            expect=[FAILED],
            threshold=2,
            within=60.0,
            for_each=["prefect.resource.id", "related:flow:prefect.resource.id"],
        )
    )
    flow = [{"prefect.resource.id": "prefect.flow.f", "prefect.resource.role": "flow"}]
    send(FAILED, 0, "prefect.flow-run.a", related=flow)
    send(FAILED, 1, "prefect.flow-run.b", related=flow)
    last = send(FAILED, 2, "prefect.flow-run.a", related=flow)
    react(3)
    [firing] = firings(auto)
    assert firing["triggering_labels"] == {
        "prefect.resource.id": "prefect.flow-run.a",
        "related:flow:prefect.resource.id": "prefect.flow.f",
    }
    assert firing["triggering_event"]["id"] == str(last)
    assert triggered_events()[0].payload["triggering_labels"] == firing["triggering_labels"]


def test_after_opens_a_window_that_the_expected_events_must_fill() -> None:
    auto = automation(event_trigger(after=["prefect.flow-run.Running"], expect=[FAILED], within=30.0))
    send(FAILED, 0)  # no window yet
    send("prefect.flow-run.Running", 10)
    fired = send(FAILED, 20)
    send(FAILED, 25)  # the window closed when it fired
    send("prefect.flow-run.Running", 100)
    send(FAILED, 140)  # too late for that window
    react(150)
    assert triggering_event_ids(auto) == [str(fired)]
    assert not AutomationBucket.objects.filter(end__gt="2026-01-01T12:02:20Z", count__gt=0).exists()


def test_the_same_event_in_after_and_expect_counts_only_the_events_after_the_first() -> None:
    auto = automation(event_trigger(after=[FAILED], expect=[FAILED], threshold=2, within=60.0))
    send(FAILED, 0)
    send(FAILED, 10)
    react(11)
    assert firings(auto) == []
    third = send(FAILED, 20)
    react(21)
    assert triggering_event_ids(auto) == [str(third)]


def test_events_of_another_workspace_or_a_disabled_automation_do_not_fire(second_workspace: int) -> None:
    automation(event_trigger(expect=[FAILED]))
    automation(event_trigger(expect=[FAILED]), enabled=False)
    send(FAILED, 0, workspace_id=second_workspace)
    react(1)
    assert firings() == []
    automation(event_trigger(expect=[FAILED]), workspace_id=second_workspace)
    send(FAILED, 2, workspace_id=second_workspace)
    react(3)
    [run] = ActionRun.objects.all()
    assert run.workspace_id == second_workspace
    assert Event.objects.get(event="prefect.automation.triggered").workspace_id == second_workspace


def test_an_automation_changed_between_passes_applies_from_the_next_pass() -> None:
    auto = automation(event_trigger(expect=[FAILED]))
    send(FAILED, 0)
    react(1)
    auto.enabled = False
    auto.save()
    send(FAILED, 2)
    react(3)
    auto.trigger = event_trigger(expect=["prefect.flow-run.Crashed"])
    auto.enabled = True
    auto.save()
    send(FAILED, 4)
    crashed = send("prefect.flow-run.Crashed", 5)
    react(6)
    assert len(firings(auto)) == 2
    assert triggering_event_ids(auto)[-1] == str(crashed)


def test_an_unreadable_trigger_is_skipped_and_the_others_still_fire() -> None:
    automation({"type": "event", "posture": "Reactive"})  # no id: not the stored shape
    good = automation(event_trigger(expect=[FAILED]))
    send(FAILED, 0)
    react(1)
    assert len(firings(good)) == 1


def test_the_triggered_event_is_itself_evaluated_in_a_later_pass() -> None:
    automation(event_trigger(expect=[FAILED]))
    watcher = automation(event_trigger(expect=["prefect.automation.triggered"]))
    send(FAILED, 0)
    react(1)
    assert firings(watcher) == []
    react(2)
    assert len(firings(watcher)) == 1
