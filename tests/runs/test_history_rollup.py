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
from runs_app.rollup.writes import ALL_FLOWS, ALL_FLOWS_BY_MINUTE, ALL_HOURS, WORKSPACE_SUMS, flow_run_history_rebuild
from runs_app.selectors.history import flow_run_history
from tests.factories import FlowFactory
from tests.runs.rollup_helpers import NO_FILTERS, assert_same, make_runs, scanned, windows


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
    for flow_id in (run["flow_id"], ALL_FLOWS, ALL_HOURS):
        counts = dict(FlowRunHistoryBucket.objects.filter(flow_id=flow_id).values_list("state_type", "count_runs"))
        assert counts == {"PENDING": 0, "RUNNING": 1}


@pytest.mark.django_db(transaction=True)
def test_rebuild_and_bulk_seed_agree_with_the_state_writes(api) -> None:  # type: ignore[no-untyped-def]
    make_runs(api)
    call_command("orion_seed", runs=250, flows=5, no_vacuum=True, stdout=io.StringIO(), stderr=io.StringIO())
    fields = ("flow_id", "bucket", "state_type", "state_name", "count_runs")
    kept = {row[:-1]: row[-1] for row in FlowRunHistoryBucket.objects.filter(count_runs__gt=0).values_list(*fields)}
    flow_run_history_rebuild()
    rebuilt = {row[:-1]: row[-1] for row in FlowRunHistoryBucket.objects.values_list(*fields)}
    per_flow = sum(count for key, count in rebuilt.items() if key[0] not in WORKSPACE_SUMS)
    all_flows = sum(count for key, count in rebuilt.items() if key[0] == ALL_FLOWS)
    by_minute = sum(count for key, count in rebuilt.items() if key[0] == ALL_FLOWS_BY_MINUTE)
    all_hours = sum(count for key, count in rebuilt.items() if key[0] == ALL_HOURS)
    assert set(kept) ^ set(rebuilt) == set()
    assert kept == rebuilt and per_flow == all_flows == by_minute == all_hours == 36 + 250
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
