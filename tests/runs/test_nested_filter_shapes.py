"""The nested filter of the dashboard (a flow-name search, state types, ``tags all_`` and an
expected-start window) over runs seeded into three workspaces whose flows share names and
tags: every page and count of one workspace's API equals reading that workspace's runs one
by one, for the name matching few or many flows, rare and common states and tags, a day, a
week or no window, both sorts the benchmark sends and the oldest first, first and next
pages (issues #21, #23).

On PostgreSQL the flow sub-filter is a semi-join on the workspace's flows, ``tags all_``
reads the GIN index keyed by workspace (``runs_app`` migration 0014), and a page in
expected-start order reads several state types one at a time; these tests keep the
answers equal to the plain reading whatever plan the database picks.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flows_app.models import Flow
from orion_project.models import Workspace
from runs_app.models import FlowRun
from runs_app.selectors.runs import flow_runs_matching
from tests.helpers import WorkspaceApi

ANCHOR = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def seeded() -> None:
    call_command(
        "orion_seed",
        runs=3_000,
        flows=30,
        workspaces=3,
        anchor=ANCHOR.isoformat(),
        no_vacuum=True,
        # The same rows on both databases (PostgreSQL would otherwise generate its own),
        # so the shapes below find what the comments say on each.
        python_rows=True,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )


def _expected(slug: str, body: dict[str, Any], order: str = "-expected_start_time") -> list[FlowRun]:
    """The workspace's runs matching ``body``, read one by one, in ``order`` (newest first)."""
    workspace = Workspace.objects.get(slug=slug)
    like = body.get("flows", {}).get("name", {}).get("like_")
    flows = set(
        Flow.objects.filter(workspace=workspace, **({"name__icontains": like} if like is not None else {})).values_list(
            "id", flat=True
        )
    )
    runs = body["flow_runs"]
    states = runs.get("state", {}).get("type", {}).get("any_")
    tags = runs.get("tags", {}).get("all_", [])
    after = runs.get("expected_start_time", {}).get("after_")
    return [
        run
        for run in FlowRun.objects.filter(workspace=workspace).order_by(order, "id")
        if run.flow_id in flows
        and (states is None or run.state_type in states)
        and set(tags) <= set(run.tags)
        and (after is None or (run.expected_start_time is not None and run.expected_start_time >= after))
    ]


def _body(like: str | None, states: list[str] | None, tags: list[str], days: float | None) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    if states is not None:
        runs["state"] = {"type": {"any_": states}}
    if tags:
        runs["tags"] = {"all_": tags}
    if days is not None:
        runs["expected_start_time"] = {"after_": ANCHOR - dt.timedelta(days=days)}
    body: dict[str, Any] = {"flow_runs": runs}
    if like is not None:
        body["flows"] = {"name": {"like_": like}}
    return body


SHAPES: list[tuple[str | None, list[str] | None, list[str], float | None]] = [
    # (name search, state types, tags all_, window in days)
    ("etl", ["FAILED", "CRASHED"], ["prod", "etl"], 7),  # the benchmark's
    ("etl-", ["FAILED", "CRASHED"], ["prod", "etl"], 1),
    ("etl", ["FAILED", "CRASHED"], ["prod", "etl"], None),
    ("-", ["COMPLETED"], ["prod"], 7),  # every flow, a common state
    ("-00", ["CRASHED"], ["staging"], None),  # few flows, a rare state
    ("etl", ["FAILED", "CRASHED"], ["etl", "critical"], 30),  # a rare tag
    ("sync", None, ["sync"], 7),
    (None, ["FAILED"], ["prod", "nightly"], 7),
    ("nothing-is-called-this", ["FAILED"], ["prod"], 7),
]


@pytest.mark.django_db(transaction=True)
def test_the_nested_filter_equals_reading_the_runs(client: Client, seeded: None) -> None:
    """One seed for every check (seeding is most of this test's time)."""
    sizes = [_check_shape(client, like, states, tags, days) for like, states, tags, days in SHAPES]
    # Not vacuous: the benchmark's shape finds runs, some page is cut at the limit, and
    # the name nothing is called finds none.
    assert max(sizes[0]) > 0 and max(max(found) for found in sizes) > 50 and sizes[-1] == [0, 0], sizes
    _check_tags_of_another_workspace_never_match(client)
    _check_a_flows_pages(client)
    if connection.vendor == "postgresql":
        _check_the_tags_read_the_workspace_index()
        _check_state_types_are_read_apart(client)


def _check_shape(
    client: Client, like: str | None, states: list[str] | None, tags: list[str], days: float | None
) -> list[int]:
    body = _body(like, states, tags, days)
    sizes: list[int] = []
    for slug in ("ws-1", "ws-3"):
        api = WorkspaceApi(client, slug)
        expected = _expected(slug, body)
        wire = {**body, "flow_runs": _on_the_wire(body["flow_runs"])}
        oldest = _expected(slug, body, "expected_start_time")
        # Pages in expected-start order, the first and the next (several state types are
        # read one type at a time on PostgreSQL, each type's first offset + limit runs).
        for sort, ordered in (("EXPECTED_START_TIME_DESC", expected), ("EXPECTED_START_TIME_ASC", oldest)):
            for offset in (0, 50):
                page = api.post("/flow_runs/filter", {**wire, "sort": sort, "limit": 50, "offset": offset}).json()
                # Runs sharing a start time may come in either order: compare the times and the set.
                assert [dt.datetime.fromisoformat(row["expected_start_time"]) for row in page] == [
                    run.expected_start_time for run in ordered[offset : offset + 50]
                ], (sort, offset)
                assert {row["id"] for row in page} <= {str(run.id) for run in expected}
        by_id = api.post("/flow_runs/filter", {**wire, "limit": 50}).json()
        assert [row["id"] for row in by_id] == sorted((str(run.id) for run in expected), reverse=True)[:50]
        assert api.post("/flow_runs/count", wire).json() == len(expected)
        sizes.append(len(expected))
    return sizes


def _check_a_flows_pages(client: Client) -> None:
    """A flow's page in every order (the page's ids are chosen before its rows are read
    with their state), first and next pages, equals reading the flow's runs; a page of
    no rows (``limit: 0``, from the dashboard) is empty and reads no runs."""
    api = WorkspaceApi(client, "ws-1")
    runs = list(FlowRun.objects.filter(workspace__slug="ws-1").select_related("state"))
    flow_id = max({run.flow_id for run in runs}, key=lambda flow: sum(run.flow_id == flow for run in runs))
    mine = [run for run in runs if run.flow_id == flow_id]
    keys = {
        "START_TIME_DESC": (lambda run: run.start_time or run.expected_start_time, True),
        "START_TIME_ASC": (lambda run: run.start_time or run.expected_start_time, False),
        "EXPECTED_START_TIME_DESC": (lambda run: run.expected_start_time, True),
        "NAME_ASC": (lambda run: run.name, False),
        "ID_DESC": (lambda run: run.id, True),
    }
    body = {"flows": {"id": {"any_": [str(flow_id)]}}}
    assert len(mine) > 40, len(mine)
    for sort, (key, descending) in keys.items():
        ordered = sorted(mine, key=key, reverse=descending)
        for offset in (0, 20):
            page = api.post("/flow_runs/filter", {**body, "sort": sort, "limit": 20, "offset": offset}).json()
            shown = {str(run.id): run for run in mine}
            # Runs sharing a sort key may come in either order: compare the keys, then each row.
            assert [key(shown[row["id"]]) for row in page] == [key(run) for run in ordered[offset : offset + 20]]
            for row in page:
                run = shown[row["id"]]
                assert (row["state"]["id"], row["state_type"], row["name"]) == (
                    str(run.state_id),
                    run.state_type,
                    run.name,
                )
    with CaptureQueriesContext(connection) as captured:
        assert api.post("/flow_runs/filter", {**body, "sort": "START_TIME_DESC", "limit": 0}).json() == []
    assert not any("runs_app_flowrun" in query["sql"] for query in captured.captured_queries)


def _check_tags_of_another_workspace_never_match(client: Client) -> None:
    """A tag filter combined with ``or_`` keeps its meaning, and a workspace's answer never
    holds another workspace's runs of the same tags."""
    api = WorkspaceApi(client, "ws-2")
    runs = FlowRun.objects.filter(workspace__slug="ws-2")
    body = {
        "flow_runs": {"operator": "or_", "tags": {"all_": ["prod", "etl"]}, "state": {"type": {"any_": ["PENDING"]}}}
    }
    expected = {str(run.id) for run in runs if {"prod", "etl"} <= set(run.tags) or run.state_type == "PENDING"}
    assert api.post("/flow_runs/count", body).json() == len(expected)
    page = api.post("/flow_runs/filter", {**body, "limit": 200}).json()
    assert page and {row["id"] for row in page} <= expected
    nulls = {"flow_runs": {"tags": {"operator": "or_", "all_": ["critical"], "is_null_": True}}}
    expected_or = {str(run.id) for run in runs if "critical" in run.tags or not run.tags}
    assert api.post("/flow_runs/count", nulls).json() == len(expected_or)
    # The task runs of runs with these tags: the flow-run filter seen from the task runs.
    tasks = api.post("/task_runs/count", {"flow_runs": {"tags": {"all_": ["prod", "etl"]}}}).json()
    assert tasks == sum(
        run.task_runs.count() for run in runs.prefetch_related("task_runs") if {"prod", "etl"} <= set(run.tags)
    )


def _check_the_tags_read_the_workspace_index() -> None:
    """The condition the filter writes is the expression ``ix_fr_ws_tags_gin`` indexes (a
    condition that does not match it would silently lose the index)."""
    workspace = Workspace.objects.get(slug="ws-2")
    runs = flow_runs_matching(filters={"flow_runs": {"tags": {"all_": ["critical"]}}}, workspace_id=workspace.id)
    sql, params = runs.values("id").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ix_fr_ws_tags_gin" in plan, plan


def _check_state_types_are_read_apart(client: Client) -> None:
    """Sorted by expected start, several state types are read one type at a time (a
    ``UNION ALL``), and only when nothing else narrows the state or joins by ``or_``."""
    api = WorkspaceApi(client, "ws-1")
    types: dict[str, Any] = {"type": {"any_": ["FAILED", "CRASHED"]}}
    bodies: list[tuple[dict[str, Any], bool]] = [
        ({"flow_runs": {"state": types}, "sort": "EXPECTED_START_TIME_DESC"}, True),
        ({"flow_runs": {"state": types}, "sort": "EXPECTED_START_TIME_ASC", "offset": 7}, True),
        ({"flow_runs": {"state": types}}, False),
        ({"flow_runs": {"state": {**types, "name": {"any_": ["Failed"]}}}, "sort": "EXPECTED_START_TIME_DESC"}, False),
        (
            {
                "flow_runs": {"operator": "or_", "state": types, "tags": {"all_": ["etl"]}},
                "sort": "EXPECTED_START_TIME_DESC",
            },
            False,
        ),
        ({"flow_runs": {"state": {"type": {"any_": ["FAILED", "FAILED"]}}}, "sort": "EXPECTED_START_TIME_DESC"}, False),
    ]
    for body, apart in bodies:
        with CaptureQueriesContext(connection) as captured:
            page = api.post("/flow_runs/filter", {**body, "limit": 30}).json()
        assert len(page) == 30
        assert any("UNION ALL" in query["sql"] for query in captured.captured_queries) == apart, body


def _on_the_wire(runs: dict[str, Any]) -> dict[str, Any]:
    window = runs.get("expected_start_time")
    if window is None:
        return runs
    return {**runs, "expected_start_time": {"after_": window["after_"].isoformat()}}
