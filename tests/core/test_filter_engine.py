"""The filter engine against querysets, with no HTTP: the declarative filters of each app,
``combine``'s TRUE/empty rules, and the selectors that read a whole validated body."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Q
from django.utils import timezone

from flows_app import selectors as flow_selectors
from orion_project.filtering import combine
from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.filters import FLOW_RUN_FILTER, TASK_RUN_FILTER
from runs_app.models import FlowRun
from runs_app.selectors.runs import flow_runs_matching, task_runs_matching
from tests.factories import DeploymentFactory, FlowFactory, FlowRunFactory, TaskRunFactory

pytestmark = pytest.mark.django_db


def test_combine_treats_none_as_true() -> None:
    real = Q(name="a")
    assert combine([], "and_") is None
    assert combine([None, real], "and_") == real
    assert combine([None, real], "or_") is None  # TRUE absorbs an OR
    assert combine([real, Q(name="b")], "or_") == real | Q(name="b")


def test_absent_and_null_keys_constrain_nothing() -> None:
    assert FLOW_RUN_FILTER.to_q(None) is None
    assert FLOW_RUN_FILTER.to_q({}) is None
    assert FLOW_RUN_FILTER.to_q({"name": None, "tags": None}) is None


def test_empty_any_matches_nothing_and_operators_and_together() -> None:
    FlowRunFactory(name="alpha", tags=["x", "y"])
    FlowRunFactory(name="beta", tags=["x"])
    runs = FlowRun.objects.all()
    assert FLOW_RUN_FILTER.apply(runs, {"name": {"any_": []}}).count() == 0
    names = FLOW_RUN_FILTER.apply(runs, {"name": {"any_": ["alpha", "beta"], "like_": "alp"}})
    assert [run.name for run in names] == ["alpha"]
    tagged = FLOW_RUN_FILTER.apply(runs, {"tags": {"all_": ["x", "y"]}})
    assert [run.name for run in tagged] == ["alpha"]


def test_object_operator_or_combines_field_filters() -> None:
    FlowRunFactory(name="alpha", tags=[])
    FlowRunFactory(name="beta", tags=["keep"])
    FlowRunFactory(name="gamma", tags=[])
    body = {"operator": "or_", "name": {"any_": ["alpha"]}, "tags": {"all_": ["keep"]}}
    assert sorted(FLOW_RUN_FILTER.apply(FlowRun.objects.all(), body).values_list("name", flat=True)) == [
        "alpha",
        "beta",
    ]


def test_state_filter_reads_the_denormalised_columns() -> None:
    FlowRunFactory(name="done", state_type="COMPLETED", state_name="Completed")
    FlowRunFactory(name="late", state_type="SCHEDULED", state_name="Late")
    by_type = FLOW_RUN_FILTER.apply(FlowRun.objects.all(), {"state": {"type": {"any_": ["COMPLETED"]}}})
    by_name = FLOW_RUN_FILTER.apply(FlowRun.objects.all(), {"state": {"name": {"any_": ["Late"]}}})
    assert [run.name for run in by_type] == ["done"]
    assert [run.name for run in by_name] == ["late"]


def test_flow_runs_matching_joins_related_filters() -> None:
    etl, other = FlowFactory(name="etl"), FlowFactory(name="other")
    deployment = DeploymentFactory(flow=etl, name="nightly")
    wanted = FlowRunFactory(flow=etl, deployment=deployment, name="wanted")
    FlowRunFactory(flow=etl, name="no-deployment")
    FlowRunFactory(flow=other, name="other-flow")
    TaskRunFactory(flow_run=wanted, name="step")
    body = {
        "flows": {"name": {"any_": ["etl"]}},
        "deployments": {"name": {"any_": ["nightly"]}},
        "task_runs": {"name": {"any_": ["step"]}},
        "sort": "NAME_ASC",  # keys that are not filters are not read by the selector
    }
    assert [run.name for run in flow_runs_matching(filters=body, workspace_id=DEFAULT_WORKSPACE_ID)] == ["wanted"]
    assert flow_runs_matching(filters=None, workspace_id=DEFAULT_WORKSPACE_ID).count() == 3


def test_task_runs_matching_applies_flow_filters_to_their_flow_run() -> None:
    flow = FlowFactory(name="etl")
    run = FlowRunFactory(flow=flow)
    TaskRunFactory(flow_run=run, name="inside")
    TaskRunFactory(flow_run=FlowRunFactory(), name="elsewhere")
    body = {"flows": {"name": {"any_": ["etl"]}}}
    assert [task.name for task in task_runs_matching(filters=body, workspace_id=DEFAULT_WORKSPACE_ID)] == ["inside"]
    assert TASK_RUN_FILTER.to_q({"name": {"any_": ["inside"]}}) is not None


def test_flows_matching_needs_a_matching_run_when_runs_are_filtered() -> None:
    busy, idle = FlowFactory(name="busy"), FlowFactory(name="idle")
    FlowRunFactory(flow=busy, state_type="RUNNING", state_name="Running")
    body = {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}
    assert [flow.name for flow in flow_selectors.flows_matching(workspace_id=DEFAULT_WORKSPACE_ID, filters=body)] == [
        "busy"
    ]
    assert {flow.name for flow in flow_selectors.flows_matching(workspace_id=DEFAULT_WORKSPACE_ID, filters={})} == {
        busy.name,
        idle.name,
    }


def test_time_bounds_are_inclusive() -> None:
    moment = timezone.now().replace(microsecond=0)
    FlowRunFactory(name="edge", expected_start_time=moment)
    FlowRunFactory(name="before", expected_start_time=moment - dt.timedelta(hours=1))
    body = {"expected_start_time": {"after_": moment, "before_": moment}}
    assert [run.name for run in FLOW_RUN_FILTER.apply(FlowRun.objects.all(), body)] == ["edge"]
