"""Every expected event fires exactly once: with evaluators racing each other and writers
committing out of order, after a pass that crashed, and through the services command."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections, transaction

from automations_app.background.triggers import CONSUMER, evaluate_proactive_triggers, evaluate_triggers
from automations_app.models import ActionRun, AutomationBucket
from automations_app.triggers import evaluation
from events_app.models import Event, EventCursor
from events_app.services.record import NewEvent, record_events
from orion_project.models import DEFAULT_WORKSPACE_ID
from tests.automations.trigger_helpers import automation, event_trigger, firings, react, send, triggering_event_ids

pytestmark = pytest.mark.django_db(transaction=True)

FAILED = "prefect.flow-run.Failed"


def _together(*work: Callable[[], None]) -> None:
    """Run each callable in its own thread (its own connection); re-raise a failure."""
    errors: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_two_evaluators_racing_writers_fire_each_event_exactly_once() -> None:
    auto = automation(event_trigger(expect=[FAILED]))
    sent: list[uuid.UUID] = []
    writing = threading.Event()
    writing.set()

    def writer(offset: int) -> None:
        for index in range(40):
            event_id = uuid.uuid4()
            with transaction.atomic():
                name = FAILED if index % 2 == 0 else "prefect.flow-run.Running"
                record_events(
                    [NewEvent(name, {"prefect.resource.id": f"r.{offset}.{index}"}, id=event_id)],
                    workspace_id=DEFAULT_WORKSPACE_ID,
                )
                if index % 5 == offset:
                    # Hold the transaction open so a later one commits first.
                    time.sleep(0.05)
            if name == FAILED:
                sent.append(event_id)

    def evaluator() -> None:
        while writing.is_set():
            evaluate_triggers(batch_size=7)
            evaluate_proactive_triggers(batch_size=7)

    def writers() -> None:
        _together(lambda: writer(0), lambda: writer(1), lambda: writer(2))
        writing.clear()

    _together(writers, evaluator, evaluator)
    while evaluate_triggers():
        pass

    assert sorted(str(fired) for fired in triggering_event_ids(auto)) == sorted(str(event_id) for event_id in sent)
    assert len(sent) == 60
    assert ActionRun.objects.count() == 60
    assert Event.objects.filter(event="prefect.automation.triggered").count() == 60


def test_a_pass_that_crashes_leaves_nothing_and_the_next_pass_resumes(monkeypatch: pytest.MonkeyPatch) -> None:
    auto = automation(event_trigger(expect=[FAILED], threshold=2, within=60.0))
    first = send(FAILED, 0)
    react(1)
    cursor_before = EventCursor.objects.values_list("txid", "seq").get(consumer=CONSUMER)
    second = send(FAILED, 2)

    real = evaluation.record_events

    def crash(*args: object, **kwargs: object) -> None:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("the process died here")

    monkeypatch.setattr(evaluation, "record_events", crash)
    with pytest.raises(RuntimeError):
        react(3)
    # The bucket change, the firing, its event and the cursor's advance rolled back together.
    assert EventCursor.objects.values_list("txid", "seq").get(consumer=CONSUMER) == cursor_before
    assert AutomationBucket.objects.get().count == 1
    assert not ActionRun.objects.exists()
    assert not Event.objects.filter(event="prefect.automation.triggered").exists()

    monkeypatch.setattr(evaluation, "record_events", real)
    react(4)
    assert triggering_event_ids(auto) == [str(second)]
    assert first != second


def test_a_crashed_pass_is_retried_by_the_services_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    automation(event_trigger(expect=[FAILED]))
    send(FAILED, 0)
    monkeypatch.setattr(evaluation.Evaluation, "commit", lambda self: (_ for _ in ()).throw(RuntimeError("boom")))
    out = StringIO()
    call_command("orion_services", "--once", "--only", "triggers", stdout=out)
    assert out.getvalue().strip() == "triggers: 0"
    assert firings() == []
    monkeypatch.undo()
    call_command("orion_services", "--once", "--only", "triggers,proactive_triggers", stdout=out)
    assert len(firings()) == 1


def test_an_automation_deleted_during_a_pass_loses_its_effects_not_the_pass() -> None:
    doomed = automation(event_trigger(expect=[FAILED], threshold=2, within=60.0))
    kept = automation(event_trigger(expect=[FAILED]))
    send(FAILED, 0)
    original = evaluation.Evaluation.commit

    def delete_first(self: evaluation.Evaluation) -> None:
        doomed.delete()
        original(self)

    evaluation.Evaluation.commit = delete_first  # type: ignore[method-assign]
    try:
        react(1)
    finally:
        evaluation.Evaluation.commit = original  # type: ignore[method-assign]
    assert not AutomationBucket.objects.exists()
    assert len(firings(kept)) == 1
