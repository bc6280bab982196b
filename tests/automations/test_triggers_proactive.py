"""Proactive triggers (fire on the clock when too few events arrived in a window) and the
clock's upkeep of buckets, with the reference's semantics and time under the tests'
control."""

from __future__ import annotations

import pytest

from automations_app.models import AutomationBucket
from tests.automations.trigger_helpers import (
    at,
    automation,
    event_trigger,
    firings,
    proact,
    react,
    send,
    triggered_events,
    triggering_event_ids,
)

pytestmark = pytest.mark.django_db(transaction=True)

HEARTBEAT = "worker.heartbeat"
RUNNING = "prefect.flow-run.Running"
COMPLETED = "prefect.flow-run.Completed"


def test_silence_for_a_whole_window_fires_when_the_window_ends() -> None:
    auto = automation(event_trigger(expect=[HEARTBEAT], posture="Proactive", within=60.0), name="quiet")
    assert proact(0) == 0  # opens the window [0, 60)
    assert proact(59) == 0
    assert proact(60) == 1
    assert proact(61) == 0  # the next window [60, 120) is open
    assert proact(120) == 1
    [first, _] = firings(auto)
    assert first["triggering_event"] is None
    assert first["triggered"] == at(60).isoformat()
    [event, _] = triggered_events()
    assert event.resource["prefect.posture"] == "Proactive"
    assert event.related == []
    assert event.payload == {"triggering_labels": {}, "triggering_event": None}


def test_enough_events_in_the_window_keep_it_quiet_until_they_stop() -> None:
    auto = automation(event_trigger(expect=[HEARTBEAT], posture="Proactive", within=60.0))
    proact(0)
    send(HEARTBEAT, 30)
    react(31)
    assert proact(60) == 0  # the window held its heartbeat; it is closed
    assert proact(65) == 0  # and the next opens now: [65, 125)
    send(HEARTBEAT, 100)
    react(101)
    assert proact(125) == 0
    assert proact(130) == 0  # opens [130, 190); no more heartbeats
    assert proact(189) == 0
    assert proact(190) == 1
    assert len(firings(auto)) == 1


def test_a_threshold_of_several_events_fires_when_fewer_arrived() -> None:
    auto = automation(event_trigger(expect=[HEARTBEAT], posture="Proactive", threshold=3, within=60.0))
    proact(0)
    seen = [send(HEARTBEAT, seconds) for seconds in (10, 20)]
    react(21)
    assert proact(60) == 1
    # A proactive firing names the last event its window saw.
    assert triggering_event_ids(auto) == [str(seen[-1])]


def test_after_and_for_each_watch_each_run_that_started_for_its_completion() -> None:
    auto = automation(
        event_trigger(
            after=[RUNNING],
            expect=[COMPLETED],
            for_each=["prefect.resource.id"],
            posture="Proactive",
            within=60.0,
        )
    )
    proact(0)  # no window without a Running event
    assert not AutomationBucket.objects.exists()
    started_a = send(RUNNING, 5, "prefect.flow-run.a")
    send(RUNNING, 6, "prefect.flow-run.b")
    send(COMPLETED, 30, "prefect.flow-run.b")
    react(31)
    assert proact(40) == 0
    assert proact(66) == 1
    [firing] = firings(auto)
    assert firing["triggering_labels"] == {"prefect.resource.id": "prefect.flow-run.a"}
    assert firing["triggering_event"]["id"] == str(started_a)
    assert not AutomationBucket.objects.exists()  # after: no next window until the next Running
    assert proact(200) == 0


def test_the_clock_drops_buckets_whose_window_ended_more_than_the_buffer_ago() -> None:
    automation(event_trigger(expect=[COMPLETED], threshold=2, within=10.0))
    send(COMPLETED, 0)
    react(1)
    assert AutomationBucket.objects.count() == 1
    proact(69)
    assert AutomationBucket.objects.count() == 1
    proact(70)
    assert not AutomationBucket.objects.exists()


def test_a_reactive_window_ended_but_not_yet_dropped_holds_back_the_next_event() -> None:
    # The reference counts an event after an ended window into the next one without
    # judging it; the clock's sweep of ended windows is what makes the next one fresh.
    auto = automation(event_trigger(expect=[COMPLETED], within=60.0))
    send(COMPLETED, 0)
    react(1)  # fires; the next window is [60, 120)
    send(COMPLETED, 130)
    react(131)
    assert len(firings(auto)) == 1
    proact(249)
    assert len(firings(auto)) == 1
    proact(250)  # drops the window [130, 190)
    fired = send(COMPLETED, 260)
    react(261)
    assert triggering_event_ids(auto)[-1] == str(fired)


def test_the_proactive_pass_first_reads_what_the_log_holds() -> None:
    auto = automation(event_trigger(expect=[HEARTBEAT], posture="Proactive", within=60.0))
    proact(0)
    send(HEARTBEAT, 59)
    # No reactive pass in between: the proactive pass counts the heartbeat first.
    assert proact(60) == 0
    assert firings(auto) == []
