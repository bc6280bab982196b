"""The rule that makes the read layer's caches safe (``orion_project.prepared``): a
statement is built from its key alone. A by-body statement's SQL and parameters must not
depend on the clock or on what the database holds, since the statement compiled for the
first request with a body serves every later one. Each registered statement is built
here twice, under two clocks, with the database shut."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from flows_app.api.views import FlowsCountRequest, FlowsFilterRequest
from orion_project.api.filtering import validate_body
from orion_project.models import DEFAULT_WORKSPACE_ID
from orion_project.prepared import ByBody, PageByBody, by_id, by_id_like
from runs_app.api.flow_runs import FlowRunsCountRequest, FlowRunsFilterRequest
from runs_app.api.task_runs import TaskRunsCountRequest, TaskRunsFilterRequest
from runs_app.models import FlowRun, FlowRunState, TaskRun
from tests.helpers import FILTER_SINCE, FLOW_RUN_FILTER_BODIES

pytestmark = pytest.mark.django_db

FLOW = str(uuid.UUID(int=1))
RUN = str(uuid.UUID(int=2))
SINCE = FILTER_SINCE

TASK_RUN_BODIES: list[dict[str, Any]] = [
    {},
    {"flow_runs": {"id": {"any_": [RUN]}}, "sort": "EXPECTED_START_TIME_DESC"},
    {"task_runs": {"start_time": {"after_": SINCE}, "state": {"type": {"any_": ["COMPLETED"]}}}, "limit": 3},
    {"flows": {"name": {"any_": ["f"]}}, "deployments": {"id": {"any_": [FLOW]}}, "sort": "ID_DESC"},
]

# The flow routes take the run bodies' filters (not their work filters) and sort flows.
FLOW_BODIES: list[dict[str, Any]] = [
    {
        key: ("NAME_DESC" if key == "sort" else value)
        for key, value in body.items()
        if key not in ("work_pools", "work_pool_queues")
    }
    for body in FLOW_RUN_FILTER_BODIES
]


def _pages(serializer: Any, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    validated = [validate_body(serializer, body) for body in bodies]
    return [{**body, "limit": body.get("limit") or 200} for body in validated]


# Every registered statement, by the name of its builder, with the bodies to build it from.
SAMPLES: dict[str, list[dict[str, Any]]] = {
    "_flow_run_page": _pages(FlowRunsFilterRequest, FLOW_RUN_FILTER_BODIES),
    "_task_run_page": _pages(TaskRunsFilterRequest, TASK_RUN_BODIES),
    "_flow_run_count": [validate_body(FlowRunsCountRequest, body) for body in FLOW_RUN_FILTER_BODIES],
    "_task_run_count": [validate_body(TaskRunsCountRequest, body) for body in TASK_RUN_BODIES],
    "_flow_page": _pages(FlowsFilterRequest, FLOW_BODIES),
    "_flow_count": [validate_body(FlowsCountRequest, body) for body in FLOW_BODIES],
    # /api/metrics: every workspace's rows, the workspaces named where it matters.
    "_workspaces": [{}],
    "_flow_run_rows": [{"workspaces": [DEFAULT_WORKSPACE_ID]}, {"workspaces": [DEFAULT_WORKSPACE_ID, 7]}],
    "_task_run_snapshot": [{"workspaces": [DEFAULT_WORKSPACE_ID, 7]}],
    "_work_queues": [{}],
    "_concurrency_limits": [{}],
}


@contextmanager
def _database_shut() -> Iterator[None]:
    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        raise AssertionError(f"a statement was built with a database read: {sql}")

    with connection.execute_wrapper(refuse):
        yield


def _built_at(statement: ByBody[Any], body: Mapping[str, Any], now: dt.datetime, monkeypatch: Any) -> Any:
    monkeypatch.setattr(timezone, "now", lambda: now)
    with _database_shut():
        return statement.statement(body, connection.alias, DEFAULT_WORKSPACE_ID)


def _check_rule(statement: ByBody[Any], bodies: list[dict[str, Any]], monkeypatch: Any) -> None:
    for body in bodies:
        early = _built_at(statement, body, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), monkeypatch)
        late = _built_at(statement, body, dt.datetime(2031, 6, 1, 12, 30, tzinfo=dt.UTC), monkeypatch)
        assert early == late, f"{statement.name} depends on the clock for {body}"


def test_every_statement_by_body_has_samples() -> None:
    assert sorted(statement.build.__qualname__ for statement in ByBody.registered) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_statement_is_built_from_its_body_alone(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (statement,) = [s for s in ByBody.registered if s.build.__qualname__ == name]
    _check_rule(statement, SAMPLES[name], monkeypatch)


def test_the_check_catches_a_clock_and_a_database_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ByBody, "registered", [])

    def started_lately(body: Mapping[str, Any], workspace_id: int) -> QuerySet[FlowRun]:
        return FlowRun.objects.filter(start_time__gte=timezone.now() - dt.timedelta(days=1))

    def of_known_flows(body: Mapping[str, Any], workspace_id: int) -> QuerySet[FlowRun]:
        return FlowRun.objects.filter(flow_id__in=list(FlowRun.objects.values_list("flow_id", flat=True)))

    with pytest.raises(AssertionError, match="depends on the clock"):
        _check_rule(PageByBody(started_lately), [{}], monkeypatch)
    with pytest.raises(AssertionError, match="database read"):
        _check_rule(PageByBody(of_known_flows), [{}], monkeypatch)


def test_reads_by_id_share_one_registry() -> None:
    """The routes' read of a state and the engine's read of a run's state are one
    statement; a route's queryset with joins maps to the read with those joins."""
    assert by_id_like(FlowRunState.objects.all()) is by_id(FlowRunState)
    assert by_id_like(FlowRun.objects.select_related("state", "work_queue__work_pool")) is by_id(
        FlowRun, joins=("state", "work_queue__work_pool")
    )
    assert by_id(TaskRun, locked=True) is not by_id(TaskRun)
    # Anything but joins is read through the ORM.
    assert by_id_like(FlowRun.objects.filter(name="x")) is None
    assert by_id_like(FlowRun.objects.only("id")) is None
    assert by_id_like(FlowRun.objects.select_related()) is None
    assert by_id_like(FlowRun.objects.prefetch_related("states")) is None
