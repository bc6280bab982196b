"""The orchestration engine without HTTP: the transition tables fed straight to the one door
(``flow_run_set_state`` / ``task_run_set_state``), so a rule can be checked, and
broken rules found, below the API layer."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.models import FlowRun, FlowRunState, TaskRun
from runs_app.orchestration.context import ProposedState
from runs_app.services.runs import flow_run_create, flow_run_set_state, task_run_create, task_run_set_state
from runs_app.states import StateType
from tests.factories import FlowFactory
from tests.runs.transitions import ACCEPT, FLOW_TRANSITIONS, TASK_TRANSITIONS

pytestmark = pytest.mark.django_db


def _state(state_type: str) -> ProposedState:
    return ProposedState.make(type=state_type, timestamp=timezone.now())


def _flow_run(state_type: str) -> FlowRun:
    run, created = flow_run_create(
        workspace_id=DEFAULT_WORKSPACE_ID, data={"flow_id": FlowFactory().id}, initial_state=_state(state_type)
    )
    assert created
    return run


@pytest.mark.parametrize(("initial", "proposed", "http", "verdict", "result"), FLOW_TRANSITIONS)
def test_flow_policy_decides_the_transition_table(
    initial: str, proposed: str, http: int, verdict: str, result: str
) -> None:
    run = _flow_run(initial)
    outcome = flow_run_set_state(flow_run_id=run.id, workspace_id=DEFAULT_WORKSPACE_ID, state=_state(proposed))
    assert outcome.status == verdict
    assert outcome.state_written is (http == 201)
    assert outcome.state is not None and outcome.state.type == result
    run.refresh_from_db()
    assert run.state_type == result
    assert FlowRunState.objects.filter(flow_run=run).count() == (2 if http == 201 else 1)


@pytest.mark.parametrize(("initial", "proposed", "http", "verdict", "result"), TASK_TRANSITIONS)
def test_task_policy_decides_the_transition_table(
    initial: str, proposed: str, http: int, verdict: str, result: str
) -> None:
    flow_run = _flow_run(StateType.RUNNING)
    task, _ = task_run_create(
        workspace_id=DEFAULT_WORKSPACE_ID,
        data={"flow_run_id": flow_run.id, "task_key": uuid.uuid4().hex, "dynamic_key": "0"},
        initial_state=_state(initial),
    )
    outcome = task_run_set_state(task_run_id=task.id, workspace_id=DEFAULT_WORKSPACE_ID, state=_state(proposed))
    assert (outcome.status, outcome.state_written) == (verdict, http == 201)
    assert TaskRun.objects.get(pk=task.id).state_type == result


def test_force_writes_what_the_policy_would_refuse() -> None:
    run = _flow_run(StateType.COMPLETED)
    outcome = flow_run_set_state(
        flow_run_id=run.id, workspace_id=DEFAULT_WORKSPACE_ID, state=_state(StateType.RUNNING), force=True
    )
    assert (outcome.status, outcome.state_written) == (ACCEPT, True)
    run.refresh_from_db()
    assert (run.state_type, run.run_count) == (StateType.RUNNING, 1)


def test_unknown_run_is_a_not_found_error() -> None:
    from orion_project.exceptions import ObjectNotFoundError

    with pytest.raises(ObjectNotFoundError):
        flow_run_set_state(flow_run_id=uuid.uuid4(), workspace_id=DEFAULT_WORKSPACE_ID, state=_state(StateType.RUNNING))
