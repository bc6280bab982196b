"""A filter body's datetimes as parameters of the statement compiled for its shape
(``orion_project.body_times``): the statement it gives for a body equals the statement
compiled for that body itself, for every registered by-body statement and windows on
every datetime field; a builder that does anything but pass a datetime on as a parameter
keeps its statement per body; and through the API, bodies of one shape with different
windows each get their own runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from flows_app.api.views import FlowsCountRequest, FlowsFilterRequest
from orion_project import body_times
from orion_project.api.filtering import validate_body
from orion_project.db import RowsCount
from orion_project.models import DEFAULT_WORKSPACE_ID
from orion_project.prepared import ByBody, PageByBody, ValueByBody
from runs_app.api.flow_runs import FlowRunsCountRequest, FlowRunsFilterRequest
from runs_app.api.task_runs import TaskRunsCountRequest, TaskRunsFilterRequest
from runs_app.models import FlowRun
from tests.helpers import ApiClient, make_flow_run

pytestmark = pytest.mark.django_db

ANCHOR = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
BERLIN = dt.timezone(dt.timedelta(hours=1))


def _windows(first: dt.datetime, second: dt.datetime) -> list[dict[str, Any]]:
    """Raw flow-run bodies with datetimes on every field a client filters on, the same
    instant twice, windows the wrong way round, among other conditions and sorts."""
    a, b = first.isoformat(), second.isoformat()
    return [
        {"flow_runs": {"expected_start_time": {"after_": a}}},
        {"flow_runs": {"expected_start_time": {"after_": a, "before_": b}}, "sort": "EXPECTED_START_TIME_DESC"},
        {"flow_runs": {"expected_start_time": {"after_": b, "before_": a}}},
        {"flow_runs": {"start_time": {"after_": a, "before_": a, "is_null_": False}}},
        {"flow_runs": {"next_scheduled_start_time": {"before_": b}, "state": {"type": {"any_": ["SCHEDULED"]}}}},
        {
            "flows": {"name": {"like_": "etl"}},
            "flow_runs": {
                "expected_start_time": {"after_": a},
                "tags": {"all_": ["prod"]},
                "start_time": {"before_": b},
            },
            "task_runs": {"start_time": {"after_": a}},
            "limit": 10,
            "offset": 5,
        },
    ]


def _task_windows(first: dt.datetime, second: dt.datetime) -> list[dict[str, Any]]:
    a, b = first.isoformat(), second.isoformat()
    return [
        {"task_runs": {"start_time": {"after_": a, "before_": b}}, "limit": 3},
        {"flow_runs": {"expected_start_time": {"after_": a}}, "task_runs": {"start_time": {"before_": b}}},
        # The dashboard's task-run cards: a day's window, state types, no sub-flow runs.
        {
            "flows": {"id": {"any_": ["00000000-0000-4000-8000-000000000001"]}},
            "task_runs": {
                "state": {"type": {"any_": ["FAILED", "CRASHED"]}},
                "start_time": {"after_": b, "before_": a},
                "subflow_runs": {"exists_": False},
            },
        },
    ]


def _flow_windows(first: dt.datetime, second: dt.datetime) -> list[dict[str, Any]]:
    """The flow-run windows as bodies of the flow routes (which sort flows, not runs)."""
    return [{**body, "sort": "CREATED_DESC"} if "sort" in body else body for body in _windows(first, second)]


def _samples(first: dt.datetime, second: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    def pages(serializer: Any, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {**body, "limit": body.get("limit") or 200} for body in map(lambda b: validate_body(serializer, b), bodies)
        ]

    return {
        "_flow_run_page": pages(FlowRunsFilterRequest, _windows(first, second)),
        "_task_run_page": pages(TaskRunsFilterRequest, _task_windows(first, second)),
        "_flow_run_count": [validate_body(FlowRunsCountRequest, body) for body in _windows(first, second)],
        "_task_run_count": [validate_body(TaskRunsCountRequest, body) for body in _task_windows(first, second)],
        "_flow_page": pages(FlowsFilterRequest, _flow_windows(first, second)),
        "_flow_count": [
            validate_body(FlowsCountRequest, {key: body[key] for key in body if key not in ("sort", "limit", "offset")})
            for body in _flow_windows(first, second)
        ],
        # /api/metrics's statements: their bodies name workspaces and carry no datetime,
        # so each body keeps its own statement.
        "_workspaces": [{}],
        "_flow_run_rows": [{"workspaces": [DEFAULT_WORKSPACE_ID]}],
        "_task_run_snapshot": [{"workspaces": [DEFAULT_WORKSPACE_ID]}],
        "_work_queues": [{}],
        "_concurrency_limits": [{}],
    }


def _by_shape(statement: ByBody[Any], body: Mapping[str, Any], cache: dict[Any, Any]) -> Any:
    """``body``'s statement through ``body_times`` with ``cache`` as the cache."""
    alias = connection.alias

    def cached(key: tuple[Any, ...], make: Any) -> Any:
        frozen = repr(key)
        if frozen not in cache:
            cache[frozen] = make()
        return cache[frozen]

    return body_times.statement(
        body, alias, cached, lambda given: statement.compile(given, alias, DEFAULT_WORKSPACE_ID)
    )


def _parts(compiled: Any) -> Any:
    return compiled if compiled is None or isinstance(compiled, tuple) else (compiled.sql, compiled.params)


def test_every_statement_by_body_is_sampled() -> None:
    assert sorted(s.build.__qualname__ for s in ByBody.registered) == sorted(_samples(ANCHOR, ANCHOR))


@pytest.mark.parametrize(
    "name", ["_flow_run_page", "_task_run_page", "_flow_run_count", "_task_run_count", "_flow_page", "_flow_count"]
)
def test_the_statement_of_a_shape_equals_the_body_compiled(name: str) -> None:
    (statement,) = [s for s in ByBody.registered if s.build.__qualname__ == name]
    cache: dict[Any, Any] = {}
    moments = [
        (ANCHOR, ANCHOR + dt.timedelta(days=7)),
        (ANCHOR.astimezone(BERLIN) - dt.timedelta(microseconds=1), ANCHOR - dt.timedelta(days=400)),
        (dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=BERLIN)),
    ]
    for first, second in moments:
        for body in _samples(first, second)[name]:
            direct = statement.statement(body, connection.alias, DEFAULT_WORKSPACE_ID)
            assert _parts(_by_shape(statement, body, cache)) == direct, body
    shapes = [value for key, value in cache.items() if key.startswith("('shape'")]
    assert shapes and all(value is not None for value in shapes), (
        "every sampled shape takes its datetimes as parameters"
    )


def _fallback(build: Any, kind: type[ByBody[Any]]) -> None:
    """``build``'s shape is not trusted, and each body still gets its own statement."""
    statement = kind(build)
    ByBody.registered.remove(statement)
    cache: dict[Any, Any] = {}
    for moments in [(ANCHOR, ANCHOR + dt.timedelta(days=1)), (ANCHOR + dt.timedelta(days=3), ANCHOR)]:
        body = {"a": moments[0], "b": moments[1]}
        direct = statement.statement(body, connection.alias, DEFAULT_WORKSPACE_ID)
        assert _parts(_by_shape(statement, body, cache)) == direct
    assert [value for key, value in cache.items() if key.startswith("('shape'")] == [None]


def test_a_datetime_turned_into_another_value_keeps_the_statement_per_body() -> None:
    def hour_before(body: Mapping[str, Any], workspace_id: int) -> QuerySet[FlowRun]:
        return FlowRun.objects.filter(start_time__gte=body["a"] - dt.timedelta(hours=1), end_time__lt=body["b"])

    _fallback(hour_before, PageByBody)


def test_datetimes_compared_in_python_keep_the_statement_per_body() -> None:
    def ordered(body: Mapping[str, Any], workspace_id: int) -> QuerySet[FlowRun]:
        runs = FlowRun.objects.filter(start_time__gte=body["a"], end_time__lt=body["b"])
        return runs.filter(state_type="RUNNING") if body["a"] > body["b"] else runs

    _fallback(ordered, PageByBody)


def test_a_datetime_written_into_the_sql_keeps_the_statement_per_body() -> None:
    def in_text(body: Mapping[str, Any], workspace_id: int) -> QuerySet[Any]:
        after = RawSQL(f"start_time >= '{body['a'].isoformat()}'", [], output_field=BooleanField())
        return FlowRun.objects.filter(after, end_time__lt=body["b"]).annotate(total=RowsCount("id")).values("total")

    _fallback(in_text, ValueByBody)


def test_bodies_of_one_shape_each_read_their_own_window(api: ApiClient) -> None:
    """The dashboard's nested filter moves its window with the clock: each request's
    page and count are those of its own window, not of the first one compiled."""
    created = [
        make_flow_run(api, tags=["prod"], state={"type": "SCHEDULED", "state_details": {"scheduled_time": moment}})
        for moment in [(ANCHOR - dt.timedelta(days=day)).isoformat() for day in range(10)]
    ]
    starts = {run["id"]: dt.datetime.fromisoformat(run["expected_start_time"]) for run in created}
    for days in [9.5, 2.5, 0.5, 4.5, 2.5, 20]:
        after = ANCHOR - dt.timedelta(days=days)
        window = {"flow_runs": {"expected_start_time": {"after_": after.isoformat()}, "tags": {"all_": ["prod"]}}}
        expected = sorted(run_id for run_id, start in starts.items() if start >= after)
        page = api.post("/flow_runs/filter", window).json()
        assert sorted(run["id"] for run in page) == expected, days
        assert api.post("/flow_runs/count", window).json() == len(expected), days
