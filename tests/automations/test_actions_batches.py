"""The actions runner at the rate of a burst of firings: on PostgreSQL a batch of actions
shares one transaction, each action in its own savepoint, so one failing action leaves
the others' effects and outcomes; the batch's outcomes and events cost a fixed number of
statements; and the trigger evaluator wakes the runner instead of leaving the firings
to wait for its interval."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connection

from automations_app.actions import run_due_actions
from automations_app.actions.invocation import Invocation
from automations_app.actions.kinds import ACTIONS
from automations_app.models import ActionRun
from orion_project.models import Workspace
from orion_project.registry import Service, registered_services
from orion_project.service_loop import run_forever
from tests.automations.actions_helpers import action_events, action_run, automation, deployment, outcome
from tests.helpers import ApiClient, WorkspaceApi

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"


def _pause(target: dict[str, Any]) -> dict[str, Any]:
    return {"type": "pause-deployment", "source": "selected", "deployment_id": target["id"]}


def _paused(api: ApiClient, target: dict[str, Any]) -> bool:
    return bool(api.get(f"/deployments/{target['id']}").json()["paused"])


def test_one_failing_action_leaves_the_others_of_its_batch(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four actions of one batch: the second pauses its deployment and then hits a
    database error, the third cannot succeed. The first and the last are done with
    their effects and events; the second's pause is undone (on SQLite, where actions run
    outside the runner's transaction, it stays) and it waits for its retry, with no
    events; the third failed with its reason."""

    def pause_then_break(invocation: Invocation) -> None:
        ACTIONS["pause-deployment"](invocation)
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setitem(ACTIONS, "pause-then-break", pause_then_break)
    first, broken, last = deployment(api), deployment(api), deployment(api)
    owner = automation()
    runs = [
        action_run(_pause(first), owner=owner, index=0),
        action_run({**_pause(broken), "type": "pause-then-break"}, owner=owner, index=1),
        action_run({"type": "pause-work-queue", "source": "inferred"}, owner=owner, index=2),
        action_run(_pause(last), owner=owner, index=3),
    ]
    assert run_due_actions() == 4
    for run in runs:
        run.refresh_from_db()
    assert [(run.status, run.attempts) for run in runs] == [("done", 1), ("pending", 1), ("failed", 1), ("done", 1)]
    assert runs[1].last_error.startswith("Action failed: ") and "no_such_table" in runs[1].last_error
    assert (_paused(api, first), _paused(api, broken), _paused(api, last)) == (True, not POSTGRES, True)
    assert outcome(runs[0]).event == outcome(runs[3]).event == "prefect.automation.action.executed"
    assert outcome(runs[2]).payload["reason"] == "No event to infer the work queue"
    invocations = {item.payload["invocation"] for item in action_events()}
    assert invocations == {str(runs[0].id), str(runs[2].id), str(runs[3].id)}
    assert len(action_events()) == 6


def test_a_batch_records_each_outcome_in_its_own_workspace(api: ApiClient, client: Any) -> None:
    other = WorkspaceApi(client, "b", Workspace.objects.create(slug="b"))
    here, there = deployment(api), deployment(other)
    runs = [action_run(_pause(here)), action_run(_pause(there), workspace_id=other.workspace.id)]
    assert run_due_actions() == 2
    assert _paused(api, here) and _paused(other, there)
    for run in runs:
        assert [item.payload["invocation"] for item in action_events(run.workspace_id)] == [str(run.id)] * 2
        assert outcome(run).event == "prefect.automation.action.executed"


@pytest.mark.parametrize("count", [1, 60])
def test_a_batch_costs_the_same_transactions_whatever_its_size(
    count: int, django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the batch's savepoint, the claim, one statement with every outcome
    and the events, the release; SQLite: the lease (savepoint, read, an update per
    action, release) and the outcomes (savepoint, an update per action, the events'
    three statements, release): two transactions whatever the batch's size."""
    owner = automation()
    for index in range(count):
        action_run({"type": "do-nothing"}, owner=owner, index=index)
    monkeypatch.setattr("automations_app.actions.runner._BATCH_SIZE", 100)
    monkeypatch.setattr("automations_app.actions.runner._BATCH_SECONDS", 600)
    monkeypatch.setattr("automations_app.actions.runner._PASS_SECONDS", 600)
    with django_assert_num_queries(4 if POSTGRES else 2 * count + 8):
        assert run_due_actions() == count
    assert not ActionRun.objects.filter(status=ActionRun.Status.PENDING).exists()
    assert len(action_events()) == 2 * count


def test_a_batch_taken_by_a_pass_out_of_time_leaves_the_rest_due(monkeypatch: pytest.MonkeyPatch) -> None:
    owner = automation()
    for index in range(5):
        action_run({"type": "do-nothing"}, owner=owner, index=index)
    monkeypatch.setattr("automations_app.actions.runner._PASS_SECONDS", 0)
    assert run_due_actions() == 1
    assert ActionRun.objects.filter(status=ActionRun.Status.PENDING).count() == 4
    assert run_due_actions(limit=3) == 1
    monkeypatch.setattr("automations_app.actions.runner._PASS_SECONDS", 600)
    assert run_due_actions() == 3
    assert list(ActionRun.objects.values_list("attempts", flat=True)) == [1] * 5


def test_the_trigger_evaluators_wake_the_actions_runner() -> None:
    services = {service.name: service for service in registered_services()}
    assert services["triggers"].wakes == services["proactive_triggers"].wakes == ("actions",)


def test_a_pass_that_did_work_wakes_the_services_it_names() -> None:
    """``firing`` does work at every pass and wakes ``acting``; ``idle`` does none and
    wakes ``waiting``: ``acting`` runs after each pass of ``firing``, ``waiting`` only
    at its (hour-long) interval, so once."""
    passes: dict[str, int] = dict.fromkeys(("firing", "acting", "idle", "waiting"), 0)

    def counted(name: str, done: int) -> Service:
        def run() -> int:
            passes[name] += 1
            return done

        return Service(name, run, 0.05 if name in ("firing", "idle") else 3600, wakes=wakes.get(name, ()))

    wakes = {"firing": ("acting",), "idle": ("waiting",)}
    loop = [counted("firing", 1), counted("acting", 0), counted("idle", 0), counted("waiting", 0)]
    stop = threading.Event()
    timer = threading.Timer(0.6, stop.set)
    timer.start()
    try:
        run_forever(loop, stop)
    finally:
        timer.cancel()
    assert passes["firing"] >= 3
    assert passes["acting"] == passes["firing"]
    assert passes["idle"] >= 3
    assert passes["waiting"] == 1


def test_unknown_names_to_wake_are_left_alone() -> None:
    stop = threading.Event()
    ran: list[uuid.UUID] = []

    def run() -> int:
        ran.append(uuid.uuid4())
        stop.set()
        return 1

    run_forever([Service("alone", run, 3600, wakes=("not-in-this-loop",))], stop)
    assert len(ran) == 1
