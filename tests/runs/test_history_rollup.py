"""The flow-run history rollup answers exactly what reading the runs answers.

``POST /flow_runs/history`` adds up the hourly rollup for whole hours and reads the runs
only for the hours an interval bound or ``now`` cuts; these tests compare that answer
with the one reading every run (``run_history``), after runs went through the real
API, were moved between states, deleted, and bulk-seeded.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.models import FlowRunHistoryBucket
from runs_app.rollup.writes import ALL_FLOWS, flow_run_history_rebuild
from runs_app.selectors.history import flow_run_history, run_history
from runs_app.selectors.runs import flow_runs_matching
from tests.factories import FlowFactory
from tests.runs.rollup_helpers import assert_same, make_runs

NO_FILTERS: dict[str, Any] = {"flows": None, "flow_runs": None, "task_runs": None, "deployments": None}


def scanned(now: dt.datetime, filters: dict[str, Any], **window: Any) -> list[dict[str, Any]]:
    return run_history(flow_runs_matching(filters=filters, workspace_id=DEFAULT_WORKSPACE_ID), now=now, **window)


def windows(now: dt.datetime) -> list[dict[str, Any]]:
    """Daily intervals not on hour bounds (as the UI asks), hourly ones on bounds, short
    ones inside an hour, and a window reaching into the future."""
    odd = now - dt.timedelta(days=3, minutes=17, seconds=5)
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [
        {"start": odd, "end": now, "interval": dt.timedelta(days=1)},
        {
            "start": hour - dt.timedelta(hours=30),
            "end": hour + dt.timedelta(hours=3),
            "interval": dt.timedelta(hours=1),
        },
        {"start": now - dt.timedelta(hours=5), "end": now + dt.timedelta(hours=2), "interval": dt.timedelta(minutes=7)},
        {"start": odd, "end": now + dt.timedelta(days=2), "interval": dt.timedelta(hours=5, minutes=3)},
        # Bounds at an hour's middle and within a second of it (the hour is read from
        # the runs), hourly and 90-minute intervals cutting every hour, and a bound in
        # each minute of the hour across the windows.
        {"start": hour - dt.timedelta(hours=60, minutes=30), "end": now, "interval": dt.timedelta(hours=7)},
        {
            "start": hour - dt.timedelta(hours=61, minutes=29, seconds=59.6),
            "end": now,
            "interval": dt.timedelta(hours=3),
        },
        {
            "start": hour - dt.timedelta(hours=62, minutes=30, seconds=-0.4),
            "end": now,
            "interval": dt.timedelta(hours=4),
        },
        {"start": odd - dt.timedelta(hours=40), "end": now, "interval": dt.timedelta(hours=1)},
        {"start": odd - dt.timedelta(hours=41, minutes=44), "end": now, "interval": dt.timedelta(minutes=90)},
        *(
            {
                "start": hour - dt.timedelta(hours=71, minutes=minute),
                "end": hour - dt.timedelta(hours=3),
                "interval": dt.timedelta(hours=2, minutes=13),
            }
            for minute in range(0, 60, 7)
        ),
    ]


@pytest.mark.django_db
def test_history_from_the_rollup_equals_reading_every_run(api) -> None:  # type: ignore[no-untyped-def]
    ids = make_runs(api)
    assert api.delete(f"/flow_runs/{ids[3]}").status_code == 204
    now = timezone.now()
    flow_id = api.get(f"/flow_runs/{ids[0]}").json()["flow_id"]
    states = {"state": {"type": {"any_": ["COMPLETED", "FAILED"]}, "name": {"any_": ["Completed"]}, "operator": "or_"}}
    for window in windows(now):
        for filters in (
            NO_FILTERS,
            {**NO_FILTERS, "flows": {"id": {"any_": [flow_id]}}},
            {**NO_FILTERS, "flow_runs": {"state": {"type": {"any_": ["RUNNING", "SCHEDULED"]}}}},
            {**NO_FILTERS, "flows": {"id": {"any_": [flow_id]}}, "flow_runs": states},
        ):
            assert_same(
                flow_run_history(now=now, filters=filters, workspace_id=DEFAULT_WORKSPACE_ID, **window),
                scanned(now, filters, **window),
            )
    # The route answers the same, and answers through the rollup.
    body = {
        "history_start": (now - dt.timedelta(days=3)).isoformat(),
        "history_end": now.isoformat(),
        "history_interval_seconds": 86_400,
    }
    assert FlowRunHistoryBucket.objects.exists()
    answer = api.post("/flow_runs/history", body).json()
    # Expected starts every 137 minutes from 70 hours ago: 31 are in the past, one deleted.
    assert sum(s["count_runs"] for interval in answer for s in interval["states"]) == 30


@pytest.mark.django_db
def test_filters_the_rollup_has_no_column_for_read_the_runs(api) -> None:  # type: ignore[no-untyped-def]
    make_runs(api)
    now = timezone.now()
    window = windows(now)[0]
    states = {"type": {"any_": ["COMPLETED", "FAILED"]}}
    filters = {**NO_FILTERS, "flow_runs": {"state": states, "tags": {"all_": ["nowhere"]}}}
    with CaptureQueriesContext(connection) as queries:
        answer = flow_run_history(now=now, filters=filters, workspace_id=DEFAULT_WORKSPACE_ID, **window)
    assert not any(FlowRunHistoryBucket._meta.db_table in q["sql"] for q in queries.captured_queries)
    assert_same(answer, scanned(now, filters, **window))
    assert not any(interval["states"] for interval in answer)


@pytest.mark.django_db
def test_a_state_write_is_one_upsert_of_the_rollup(api) -> None:  # type: ignore[no-untyped-def]
    run = api.post("/flow_runs/", {"flow_id": str(FlowFactory().id), "state": {"type": "PENDING"}}).json()
    with CaptureQueriesContext(connection) as queries:
        api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}})
    rollup = [q["sql"] for q in queries.captured_queries if FlowRunHistoryBucket._meta.db_table in q["sql"]]
    assert len(rollup) == 1 and "ON CONFLICT" in rollup[0]
    # The run left PENDING's row and entered RUNNING's.
    counts = dict(FlowRunHistoryBucket.objects.values_list("state_type", "count_runs"))
    assert counts == {"PENDING": 0, "RUNNING": 1}


@pytest.mark.django_db(transaction=True)
def test_rebuild_and_bulk_seed_agree_with_the_state_writes(api) -> None:  # type: ignore[no-untyped-def]
    make_runs(api)
    call_command("orion_seed", runs=250, flows=5, no_vacuum=True, stdout=io.StringIO(), stderr=io.StringIO())
    fields = ("flow_id", "bucket", "state_type", "state_name", "count_runs")
    kept = {row[:-1]: row[-1] for row in FlowRunHistoryBucket.objects.filter(count_runs__gt=0).values_list(*fields)}
    flow_run_history_rebuild()
    rebuilt = {row[:-1]: row[-1] for row in FlowRunHistoryBucket.objects.values_list(*fields)}
    per_flow = sum(count for key, count in rebuilt.items() if key[0] != ALL_FLOWS)
    all_flows = sum(count for key, count in rebuilt.items() if key[0] == ALL_FLOWS)
    assert kept == rebuilt and per_flow == all_flows == 36 + 250
    now = timezone.now()
    window: dict[str, Any] = {
        "start": now - dt.timedelta(days=30, seconds=41),
        "end": now,
        "interval": dt.timedelta(days=1),
    }
    assert_same(
        flow_run_history(now=now, filters=NO_FILTERS, workspace_id=DEFAULT_WORKSPACE_ID, **window),
        scanned(now, NO_FILTERS, **window),
    )
