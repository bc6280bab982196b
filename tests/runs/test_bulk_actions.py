"""Bulk actions: ``POST /flow_runs/bulk_set_state`` and ``/bulk_delete`` with their preview,
``manage.py orion_runs``, and a client moving the same runs at the same time."""

from __future__ import annotations

import datetime as dt
import io
import threading
import uuid
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.models import FlowRun, FlowRunState, Log
from runs_app.orchestration.context import ProposedState
from runs_app.services.runs import flow_run_set_state
from runs_app.states import StateType
from tests.factories import FlowFactory
from tests.helpers import ApiClient

PAST = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()


def runs_of_flow(api: ApiClient, count: int, state: dict[str, Any], name: str | None = None) -> list[str]:
    flow = FlowFactory(**({"name": name} if name else {}))
    ids = []
    for _ in range(count):
        response = api.post("/flow_runs/", {"flow_id": str(flow.id), "state": state})
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def late(api: ApiClient, count: int, name: str | None = None) -> list[str]:
    """Runs in SCHEDULED "Late", three hours overdue."""
    details = {"scheduled_time": PAST}
    return runs_of_flow(api, count, {"type": "SCHEDULED", "name": "Late", "state_details": details}, name)


LATE_FILTER = {"flow_runs": {"state": {"name": {"any_": ["Late"]}}}}


def test_dry_run_answers_count_and_sample_and_changes_nothing(api: ApiClient) -> None:
    ids = late(api, 25)
    runs_of_flow(api, 2, {"type": "RUNNING"})
    before = FlowRunState.objects.count()
    response = api.post("/flow_runs/bulk_set_state", {**LATE_FILTER, "state": {"type": "CANCELLED"}, "dry_run": True})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 25
    assert len(body["sample"]) == 20
    assert {run["id"] for run in body["sample"]} <= set(ids)
    assert body["sample"][0]["state"]["name"] == "Late"
    assert FlowRunState.objects.count() == before
    # The preview count is the /flow_runs/count answer for the same filter keys.
    assert api.post("/flow_runs/count", LATE_FILTER).json() == 25
    limited = api.post("/flow_runs/bulk_delete", {**LATE_FILTER, "dry_run": True, "limit": 5}).json()
    assert limited["count"] == 5 and len(limited["sample"]) == 5


def test_bulk_set_state_goes_through_orchestration(api: ApiClient) -> None:
    late(api, 3, name="nightly")
    completed = runs_of_flow(api, 2, {"type": "COMPLETED"}, name="done")
    body = {"flows": {"name": {"any_": ["nightly", "done"]}}, "state": {"type": "CANCELLED", "message": "backlog"}}
    response = api.post("/flow_runs/bulk_set_state", body)
    assert response.status_code == 200
    # Finished runs stay finished: the terminal-state rule aborts those proposals.
    assert response.json() == {"accepted": 3, "rejected": 0, "aborted": 2, "waited": 0, "missing": 0}
    assert set(FlowRun.objects.filter(flow__name="nightly").values_list("state_type", flat=True)) == {"CANCELLED"}
    assert set(FlowRun.objects.filter(pk__in=completed).values_list("state_type", flat=True)) == {"COMPLETED"}
    cancelled = FlowRunState.objects.filter(type="CANCELLED")
    assert cancelled.count() == 3 and set(cancelled.values_list("message", flat=True)) == {"backlog"}


def test_bulk_set_state_counts_rejections(api: ApiClient) -> None:
    cancelling = runs_of_flow(api, 2, {"type": "CANCELLING"})
    body = {"flow_runs": {"id": {"any_": cancelling}}, "state": {"type": "RUNNING"}}
    assert api.post("/flow_runs/bulk_set_state", body).json()["rejected"] == 2


def test_bulk_delete_removes_runs_with_their_rows(api: ApiClient) -> None:
    doomed = late(api, 3, name="old")
    kept = late(api, 1, name="kept")
    api.post("/logs/", [{"name": "x", "level": 20, "message": "m", "timestamp": PAST, "flow_run_id": doomed[0]}])
    response = api.post("/flow_runs/bulk_delete", {"flows": {"name": {"any_": ["old"]}}})
    assert response.status_code == 200 and response.json() == {"deleted": 3}
    assert list(FlowRun.objects.values_list("id", flat=True)) == [uuid.UUID(kept[0])]
    assert not FlowRunState.objects.filter(flow_run_id__in=doomed).exists()
    assert not Log.objects.exists()


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"dry_run": True}, ["body", "state"]),
        ({"state": {"type": "DONE"}}, ["body", "state", "type"]),
        ({"state": {"type": "CANCELLED"}, "limit": 0}, ["body", "limit"]),
        ({"state": {"type": "CANCELLED"}, "flow_runs": {"nope": 1}}, ["body", "flow_runs", "nope"]),
    ],
)
def test_bad_bulk_bodies_get_422(api: ApiClient, body: dict[str, Any], loc: list[str]) -> None:
    response = api.post("/flow_runs/bulk_set_state", body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["exception_detail"]] == [loc]


UNFILTERED = {
    "detail": "No filter given: this would act on every flow run. Name the runs with at least one filter key "
    "(flow_runs, flows, deployments, task_runs, work_pools, work_pool_queues), "
    'or send "all": true to act on every flow run (up to the limit).'
}


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param(None, id="no-body"),
        pytest.param({}, id="empty-object"),
        pytest.param({"flow_runs": None, "flows": None}, id="null-filters"),
        pytest.param({"flow_runs": {"state": {"type": {"any_": None}}}}, id="filter-narrowing-nothing"),
        pytest.param({"flow_runs": {"operator": "or_", "name": {"any_": ["x"]}, "tags": {}}}, id="or-with-nothing"),
        pytest.param({"all": False, "limit": 5}, id="all-false"),
    ],
)
def test_a_bulk_action_without_a_filter_is_refused(api: ApiClient, filters: dict[str, Any] | None) -> None:
    """Issue #19: an empty body meant every run (up to 10,000) for a ``write`` key."""
    ids = late(api, 3)
    deleted = (
        api.post("/flow_runs/bulk_delete", raw="") if filters is None else api.post("/flow_runs/bulk_delete", filters)
    )
    assert (deleted.status_code, deleted.json()) == (422, UNFILTERED)
    moved = api.post("/flow_runs/bulk_set_state", {**(filters or {}), "state": {"type": "CANCELLED"}})
    assert (moved.status_code, moved.json()) == (422, UNFILTERED)
    assert FlowRun.objects.filter(pk__in=ids, state_name="Late").count() == 3
    # A preview only reads: it answers for any body.
    preview = api.post("/flow_runs/bulk_delete", {**(filters or {}), "dry_run": True}).json()
    assert preview["count"] == 3


def test_a_bulk_action_on_every_run_is_asked_for_with_all(api: ApiClient) -> None:
    late(api, 3)
    runs_of_flow(api, 1, {"type": "RUNNING"})
    response = api.post("/flow_runs/bulk_set_state", {"all": True, "state": {"type": "CANCELLED"}, "limit": 2})
    assert response.json() == {"accepted": 2, "rejected": 0, "aborted": 0, "waited": 0, "missing": 0}
    assert api.post("/flow_runs/bulk_delete", {"all": True}).json() == {"deleted": 4}
    assert not FlowRun.objects.exists()
    # With a filter, "all" changes nothing: the filter still chooses the runs.
    ids = late(api, 2)
    assert api.post("/flow_runs/bulk_delete", {"all": True, "flow_runs": {"id": {"any_": ids[:1]}}}).json() == {
        "deleted": 1
    }


def test_a_filter_that_matches_nothing_is_still_a_filter(api: ApiClient) -> None:
    late(api, 2)
    assert api.post("/flow_runs/bulk_delete", {"flow_runs": {"id": {"any_": []}}}).json() == {"deleted": 0}
    assert FlowRun.objects.count() == 2


def test_orion_runs_without_a_filter_option_needs_all(api: ApiClient) -> None:
    ids = late(api, 2)
    out = io.StringIO()
    call_command("orion_runs", "delete", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[0] == "2 flow run(s) match."
    with pytest.raises(CommandError, match="No --state, --flow or --older-than given: pass --all to delete"):
        call_command("orion_runs", "delete", stdout=io.StringIO())
    with pytest.raises(CommandError, match="pass --all to cancel every flow run"):
        call_command("orion_runs", "cancel", stdout=io.StringIO())
    assert FlowRun.objects.filter(pk__in=ids, state_name="Late").count() == 2
    out = io.StringIO()
    call_command("orion_runs", "cancel", "--all", stdout=out)
    assert out.getvalue().splitlines()[-1] == "accepted 2, rejected 0, aborted 0, waited 0, missing 0"
    call_command("orion_runs", "delete", "--all", stdout=io.StringIO())
    assert not FlowRun.objects.exists()


def test_orion_runs_command(api: ApiClient) -> None:
    ids = late(api, 4, name="etl")
    running = runs_of_flow(api, 1, {"type": "RUNNING"}, name="etl2")
    out = io.StringIO()
    call_command("orion_runs", "cancel", "--state", "LATE", "--older-than", "2h", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[0] == "4 flow run(s) match."
    assert FlowRun.objects.filter(state_type="CANCELLED").count() == 0
    out = io.StringIO()
    call_command("orion_runs", "cancel", "--state", "late", "--flow", "etl", stdout=out)
    assert out.getvalue().splitlines()[-1] == "accepted 4, rejected 0, aborted 0, waited 0, missing 0"
    assert set(FlowRun.objects.filter(pk__in=ids).values_list("state_type", flat=True)) == {"CANCELLED"}
    call_command("orion_runs", "set-state", "--state", "RUNNING", "--to", "crashed", stdout=io.StringIO())
    assert FlowRun.objects.get(pk=running[0]).state_type == "CRASHED"
    call_command("orion_runs", "delete", "--state", "CANCELLED", stdout=io.StringIO())
    assert list(FlowRun.objects.values_list("id", flat=True)) == [uuid.UUID(running[0])]


def test_orion_runs_cancel_counts_only_runs_not_finished(api: ApiClient) -> None:
    late(api, 2)
    runs_of_flow(api, 1, {"type": "RUNNING"})
    runs_of_flow(api, 3, {"type": "COMPLETED"})
    runs_of_flow(api, 1, {"type": "CANCELLED"})
    out = io.StringIO()
    call_command("orion_runs", "cancel", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[0] == "3 flow run(s) match."
    out = io.StringIO()
    call_command("orion_runs", "cancel", "--state", "RUNNING,COMPLETED", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[0] == "1 flow run(s) match."
    with pytest.raises(CommandError, match="A finished run cannot be cancelled: --state COMPLETED"):
        call_command("orion_runs", "cancel", "--state", "COMPLETED", stdout=io.StringIO())
    # The other actions still match finished runs.
    out = io.StringIO()
    call_command("orion_runs", "delete", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[0] == "7 flow run(s) match."
    # Narrowing to unfinished runs is no filter of the caller's: every run needs --all.
    with pytest.raises(CommandError, match="pass --all to cancel every flow run"):
        call_command("orion_runs", "cancel", stdout=io.StringIO())
    out = io.StringIO()
    call_command("orion_runs", "cancel", "--all", stdout=out)
    assert out.getvalue().splitlines()[-1] == "accepted 3, rejected 0, aborted 0, waited 0, missing 0"


@pytest.mark.django_db(transaction=True)
def test_concurrent_client_and_bulk_lose_or_double_nothing(client: Any) -> None:
    """A client starts runs (SCHEDULED → PENDING → RUNNING) while a bulk request cancels
    the same runs. Every proposal is decided against the state the other wrote: each run
    ends in exactly one history, every accepted transition wrote one state row, and the
    bulk's counts add up to the runs it chose."""
    api = ApiClient(client)
    ids = runs_of_flow(api, 30, {"type": "SCHEDULED"})
    client_accepted: list[int] = []

    def client_moves() -> None:
        accepted = 0
        try:
            for run_id in ids:
                for state_type in (StateType.PENDING, StateType.RUNNING):
                    proposal = ProposedState.make(type=state_type, timestamp=dt.datetime.now(dt.UTC))
                    if flow_run_set_state(
                        flow_run_id=uuid.UUID(run_id), state=proposal, workspace_id=DEFAULT_WORKSPACE_ID
                    ).state_written:
                        accepted += 1
        finally:
            connections.close_all()
        client_accepted.append(accepted)

    mover = threading.Thread(target=client_moves)
    mover.start()
    response = api.post(
        "/flow_runs/bulk_set_state", {"flow_runs": {"id": {"any_": ids}}, "state": {"type": "CANCELLED"}}
    )
    mover.join()
    verdicts = response.json()
    assert verdicts["accepted"] + verdicts["rejected"] + verdicts["aborted"] + verdicts["waited"] == 30
    # One initial state per run, plus one row per accepted transition of either side.
    assert FlowRunState.objects.filter(flow_run_id__in=ids).count() == 30 + client_accepted[0] + verdicts["accepted"]
    for run in FlowRun.objects.filter(pk__in=ids).select_related("state"):
        # Write order (``created``): a proposal is stamped before it waits for the row lock,
        # so under contention ``timestamp`` order may differ from the order of the writes.
        latest = FlowRunState.objects.filter(flow_run=run).order_by("-created").first()
        assert latest is not None and run.state == latest and run.state_type == latest.type
    assert FlowRun.objects.filter(pk__in=ids, state_type="CANCELLED").count() == verdicts["accepted"]
