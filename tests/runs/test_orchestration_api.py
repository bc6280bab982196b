"""Orchestration through set_state: the transition tables and every rule (reference §F)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from runs_app.models import ConcurrencyLimit, FlowRun, TaskRun
from tests.factories import DeploymentFactory
from tests.helpers import ApiClient, make_flow_run, make_task_run, propose
from tests.runs.transitions import ABORT, ACCEPT, FLOW_TRANSITIONS, REJECT, TASK_TRANSITIONS, WAIT


@pytest.mark.parametrize(("initial", "proposed", "http", "verdict", "result"), FLOW_TRANSITIONS)
def test_flow_run_transitions(
    api: ApiClient, initial: str, proposed: str, http: int, verdict: str, result: str
) -> None:
    run = make_flow_run(api, initial)
    code, body = propose(api, "flow_runs", run["id"], {"type": proposed})
    assert (code, body["status"], body["state"]["type"]) == (http, verdict, result)
    after = api.get(f"/flow_runs/{run['id']}").json()
    assert after["state_type"] == result
    assert body["details"]["type"] == f"{verdict.lower()}_details"
    if verdict != ACCEPT:
        assert body["details"]["reason"]


@pytest.mark.parametrize("initial", ["COMPLETED", "FAILED", "CRASHED", "CANCELLED", "RUNNING", "CANCELLING"])
@pytest.mark.parametrize("proposed", ["RUNNING", "PENDING", "SCHEDULED", "COMPLETED"])
def test_force_accepts_any_flow_transition(api: ApiClient, initial: str, proposed: str) -> None:
    run = make_flow_run(api, initial)
    code, body = propose(api, "flow_runs", run["id"], {"type": proposed}, force=True)
    assert (code, body["status"], body["state"]["type"]) == (201, ACCEPT, proposed)


def test_redundant_transition_reason_matches_the_reference(api: ApiClient) -> None:
    # reference example #06
    run = make_flow_run(api, "RUNNING")
    _, body = propose(api, "flow_runs", run["id"], {"type": "RUNNING"})
    assert body["details"] == {
        "type": "abort_details",
        "reason": "This run cannot transition to the StateType.RUNNING state from the StateType.RUNNING state.",
    }


def test_bookkeeping_through_a_lifecycle_and_a_forced_rerun(api: ApiClient) -> None:
    # reference examples #05, #07, #09, #20
    run = make_flow_run(api)
    assert (run["state_type"], run["state_name"], run["run_count"]) == ("PENDING", "Pending", 0)
    assert run["expected_start_time"] == run["state"]["timestamp"]
    assert run["start_time"] is None and run["end_time"] is None
    propose(api, "flow_runs", run["id"], {"type": "RUNNING"})
    running = api.get(f"/flow_runs/{run['id']}").json()
    assert running["run_count"] == 1
    assert running["start_time"] == running["state"]["timestamp"]
    propose(api, "flow_runs", run["id"], {"type": "COMPLETED"})
    done = api.get(f"/flow_runs/{run['id']}").json()
    assert done["end_time"] == done["state"]["timestamp"]
    first_span = done["total_run_time"]
    assert first_span > 0
    code, body = propose(api, "flow_runs", run["id"], {"type": "RUNNING"}, force=True)
    assert (code, body["status"]) == (201, ACCEPT)
    rerun = api.get(f"/flow_runs/{run['id']}").json()
    assert rerun["run_count"] == 2
    assert rerun["end_time"] is None
    assert rerun["start_time"] == running["start_time"]
    assert rerun["total_run_time"] == first_span
    states = api.get(f"/flow_run_states/?flow_run_id={run['id']}").json()
    assert [state["type"] for state in states] == ["PENDING", "RUNNING", "COMPLETED", "RUNNING"]


def test_pending_to_completed_never_ran(api: ApiClient) -> None:
    run = make_flow_run(api)
    propose(api, "flow_runs", run["id"], {"type": "COMPLETED"})
    after = api.get(f"/flow_runs/{run['id']}").json()
    assert (after["start_time"], after["end_time"], after["run_count"]) == (None, None, 0)


def test_state_details_are_stamped_and_client_ids_ignored(api: ApiClient) -> None:
    run = make_flow_run(api)
    client_id = str(uuid.uuid4())
    _, body = propose(
        api, "flow_runs", run["id"], {"type": "RUNNING", "id": client_id, "timestamp": "2000-01-01T00:00:00+00:00"}
    )
    assert body["state"]["id"] != client_id
    assert body["state"]["timestamp"] > "2020"
    assert body["state"]["state_details"]["flow_run_id"] == run["id"]


def test_future_scheduled_run_waits(api: ApiClient) -> None:
    # reference example #11
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    run = make_flow_run(api, state={"type": "SCHEDULED", "state_details": {"scheduled_time": future}})
    assert run["next_scheduled_start_time"] == run["expected_start_time"]
    code, body = propose(api, "flow_runs", run["id"], {"type": "RUNNING"})
    assert (code, body["status"]) == (200, WAIT)
    assert 3590 <= body["details"]["delay_seconds"] <= 3600
    assert body["details"]["reason"] == "Scheduled time is in the future"
    # Pending keeps the scheduled time, so RUNNING still waits (§F.8)
    code, body = propose(api, "flow_runs", run["id"], {"type": "PENDING"})
    assert (code, body["status"]) == (201, ACCEPT)
    assert body["state"]["state_details"]["scheduled_time"] is not None
    assert propose(api, "flow_runs", run["id"], {"type": "RUNNING"})[1]["status"] == WAIT
    after = api.get(f"/flow_runs/{run['id']}").json()
    assert after["next_scheduled_start_time"] is None


def test_flow_retries_reject_into_awaiting_retry(api: ApiClient) -> None:
    run = make_flow_run(api, "RUNNING", empirical_policy={"retries": 1, "retry_delay": 10})
    code, body = propose(api, "flow_runs", run["id"], {"type": "FAILED", "message": "boom"})
    assert (code, body["status"]) == (201, REJECT)
    assert (body["state"]["type"], body["state"]["name"]) == ("SCHEDULED", "AwaitingRetry")
    assert body["state"]["message"] == "boom"
    scheduled = dt.datetime.fromisoformat(body["state"]["state_details"]["scheduled_time"])
    assert 8 <= (scheduled - dt.datetime.now(dt.UTC)).total_seconds() <= 10
    # second failure: retries exhausted (run_count 2 > retries 1)
    propose(api, "flow_runs", run["id"], {"type": "RUNNING"}, force=True)
    _, body = propose(api, "flow_runs", run["id"], {"type": "FAILED"})
    assert body["status"] == ACCEPT


def test_deprecated_max_retries_fill_retries(api: ApiClient) -> None:
    run = make_flow_run(api, "RUNNING", empirical_policy={"max_retries": 2, "retry_delay_seconds": 0})
    assert run["empirical_policy"]["retries"] == 2
    assert propose(api, "flow_runs", run["id"], {"type": "FAILED"})[1]["status"] == REJECT


def test_manual_retry_of_a_finished_deployed_run(api: ApiClient) -> None:
    deployment = DeploymentFactory()
    run = make_flow_run(api, "FAILED")
    FlowRun.objects.filter(pk=run["id"]).update(flow=deployment.flow, deployment=deployment)
    _, body = propose(api, "flow_runs", run["id"], {"type": "SCHEDULED", "name": "AwaitingRetry"})
    assert body["status"] == ACCEPT
    plain = make_flow_run(api, "FAILED")
    _, body = propose(api, "flow_runs", plain["id"], {"type": "SCHEDULED", "name": "AwaitingRetry"})
    assert (body["status"], body["details"]["reason"]) == (
        ABORT,
        "Cannot restart a run without an associated deployment.",
    )


def test_pause_and_resume(api: ApiClient) -> None:
    # reference examples #60-#62
    run = make_flow_run(api, "RUNNING")
    details = {"pause_key": "k1", "pause_timeout": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()}
    code, body = propose(api, "flow_runs", run["id"], {"type": "PAUSED", "state_details": details})
    assert (code, body["status"]) == (201, ACCEPT)
    assert api.get(f"/flow_runs/{run['id']}").json()["empirical_policy"]["pause_keys"] == ["k1"]
    response = api.post(f"/flow_runs/{run['id']}/resume")
    assert (response.status_code, response.json()["status"]) == (201, ACCEPT)
    resumed = api.get(f"/flow_runs/{run['id']}").json()
    assert (resumed["state_type"], resumed["run_count"]) == ("RUNNING", 1)  # resuming: no new try
    assert resumed["empirical_policy"]["resuming"] is False
    _, body = propose(api, "flow_runs", run["id"], {"type": "PAUSED", "state_details": {"pause_key": "k1"}})
    assert (body["status"], body["details"]["reason"]) == (REJECT, "This pause has already fired.")


def test_expired_pause_fails_on_resume(api: ApiClient) -> None:
    run = make_flow_run(api, "RUNNING")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    propose(api, "flow_runs", run["id"], {"type": "PAUSED", "state_details": {"pause_timeout": past}})
    code, body = propose(api, "flow_runs", run["id"], {"type": "RUNNING"})
    assert (code, body["status"], body["state"]["type"]) == (201, REJECT, "FAILED")


def test_resume_of_a_run_that_is_not_paused(api: ApiClient) -> None:
    run = make_flow_run(api, "RUNNING")
    response = api.post(f"/flow_runs/{run['id']}/resume")
    assert response.status_code == 200
    assert response.json() == {
        "state": None,
        "status": ABORT,
        "details": {"type": "abort_details", "reason": "Cannot resume a flow run that is not paused."},
    }


def test_set_state_on_unknown_run_is_404_with_exception_message(api: ApiClient) -> None:
    missing = uuid.uuid4()
    response = api.post(f"/flow_runs/{missing}/set_state", {"state": {"type": "RUNNING"}})
    assert (response.status_code, response.json()) == (
        404,
        {"exception_message": f"Flow run with id {missing} not found"},
    )


def test_set_state_validation(api: ApiClient) -> None:
    run = make_flow_run(api)
    response = api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "BOGUS"}})
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"] == ["body", "state", "type"]
    response = api.post(f"/flow_runs/{run['id']}/set_state", {"state": {}})
    assert response.json()["exception_detail"][0]["type"] == "value_error.missing"


# --------------------------------------------------------------------------- task runs


@pytest.mark.parametrize(("initial", "proposed", "http", "verdict", "result"), TASK_TRANSITIONS)
def test_task_run_transitions(
    api: ApiClient, initial: str, proposed: str, http: int, verdict: str, result: str
) -> None:
    task = make_task_run(api, initial)
    code, body = propose(api, "task_runs", task["id"], {"type": proposed})
    assert (code, body["status"], body["state"]["type"]) == (http, verdict, result)


def test_task_cannot_run_unless_its_flow_runs(api: ApiClient) -> None:
    # reference example #22
    task = make_task_run(api, flow_run=make_flow_run(api, "SCHEDULED"))
    _, body = propose(api, "task_runs", task["id"], {"type": "RUNNING"})
    assert (body["status"], body["details"]["reason"]) == (
        ABORT,
        "The enclosing flow must be running to begin task execution.",
    )


def test_task_of_a_paused_flow_is_not_ready(api: ApiClient) -> None:
    flow_run = make_flow_run(api, "RUNNING")
    task = make_task_run(api, flow_run=flow_run)
    propose(api, "flow_runs", flow_run["id"], {"type": "PAUSED"})
    code, body = propose(api, "task_runs", task["id"], {"type": "RUNNING"})
    assert (code, body["status"], body["state"]["type"], body["state"]["name"]) == (201, REJECT, "PAUSED", "NotReady")


def test_task_retries_then_rerun_is_named_retrying(api: ApiClient) -> None:
    # reference example #47 and CLIENT-TRACE S2: run_count reaches 3
    task = make_task_run(api, "PENDING", empirical_policy={"retries": 2, "retry_delay": 0})
    for attempt in range(3):
        _, body = propose(api, "task_runs", task["id"], {"type": "RUNNING"})
        assert body["status"] == ACCEPT
        assert body["state"]["name"] == ("Running" if attempt == 0 else "Retrying")
        _, body = propose(api, "task_runs", task["id"], {"type": "FAILED"})
        expected = (REJECT, "AwaitingRetry") if attempt < 2 else (ACCEPT, "Failed")
        assert (body["status"], body["state"]["name"]) == expected
    final = api.get(f"/task_runs/{task['id']}").json()
    assert (final["run_count"], final["state_type"]) == (3, "FAILED")
    assert final["flow_run_run_count"] == 1


def test_task_retry_delay_list(api: ApiClient) -> None:
    task = make_task_run(api, "RUNNING", empirical_policy={"retries": 3, "retry_delay": [5, 50]})
    TaskRun.objects.filter(pk=task["id"]).update(run_count=2)
    _, body = propose(api, "task_runs", task["id"], {"type": "FAILED"})
    scheduled = dt.datetime.fromisoformat(body["state"]["state_details"]["scheduled_time"])
    assert 45 <= (scheduled - dt.datetime.now(dt.UTC)).total_seconds() <= 50


def test_task_caching(api: ApiClient) -> None:
    # reference examples #48-#49
    flow_run = make_flow_run(api, "RUNNING")
    first = make_task_run(api, "PENDING", flow_run=flow_run)
    propose(api, "task_runs", first["id"], {"type": "RUNNING"})
    _, body = propose(
        api,
        "task_runs",
        first["id"],
        {"type": "COMPLETED", "data": {"result": 42}, "state_details": {"cache_key": "ck-2"}},
    )
    assert body["status"] == ACCEPT
    second = make_task_run(api, "PENDING", flow_run=flow_run)
    code, body = propose(api, "task_runs", second["id"], {"type": "RUNNING", "state_details": {"cache_key": "ck-2"}})
    assert (code, body["status"]) == (201, REJECT)
    assert (body["state"]["type"], body["state"]["name"], body["state"]["data"]) == (
        "COMPLETED",
        "Cached",
        {"result": 42},
    )
    assert body["details"]["reason"] == "Retrieved state from cache"
    # refresh_cache skips the cache
    third = make_task_run(api, "PENDING", flow_run=flow_run)
    _, body = propose(
        api,
        "task_runs",
        third["id"],
        {"type": "RUNNING", "state_details": {"cache_key": "ck-2", "refresh_cache": True}},
    )
    assert body["status"] == ACCEPT


def test_expired_cache_entries_are_not_used(api: ApiClient) -> None:
    flow_run = make_flow_run(api, "RUNNING")
    first = make_task_run(api, "RUNNING", flow_run=flow_run)
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    propose(
        api,
        "task_runs",
        first["id"],
        {"type": "COMPLETED", "state_details": {"cache_key": "old", "cache_expiration": past}},
    )
    second = make_task_run(api, "PENDING", flow_run=flow_run)
    _, body = propose(api, "task_runs", second["id"], {"type": "RUNNING", "state_details": {"cache_key": "old"}})
    assert body["status"] == ACCEPT


def test_tag_concurrency_limit_waits_then_releases(api: ApiClient) -> None:
    # reference examples #41-#46
    api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 1})
    flow_run = make_flow_run(api, "RUNNING")
    task_a = make_task_run(api, "PENDING", flow_run=flow_run, tags=["db"])
    task_b = make_task_run(api, "PENDING", flow_run=flow_run, tags=["db", "other"])
    assert propose(api, "task_runs", task_a["id"], {"type": "RUNNING"})[1]["status"] == ACCEPT
    assert api.get("/concurrency_limits/tag/db").json()["active_slots"] == [task_a["id"]]
    code, body = propose(api, "task_runs", task_b["id"], {"type": "RUNNING"})
    assert (code, body["status"], body["details"]["delay_seconds"]) == (200, WAIT, 30)
    assert body["details"]["reason"] == "Concurrency limit for the db tag has been reached"
    propose(api, "task_runs", task_a["id"], {"type": "COMPLETED"})
    assert api.get("/concurrency_limits/tag/db").json()["active_slots"] == []
    assert propose(api, "task_runs", task_b["id"], {"type": "RUNNING"})[1]["status"] == ACCEPT
    assert api.get("/concurrency_limits/tag/db").json()["active_slots"] == [task_b["id"]]


def test_zero_concurrency_limit_aborts(api: ApiClient) -> None:
    api.post("/concurrency_limits/", {"tag": "never", "concurrency_limit": 0})
    task = make_task_run(api, "PENDING", tags=["never"])
    _, body = propose(api, "task_runs", task["id"], {"type": "RUNNING"})
    assert body["status"] == ABORT
    assert "is 0 and will deadlock" in body["details"]["reason"]


def test_forced_transition_still_releases_slots(api: ApiClient) -> None:
    api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 2})
    task = make_task_run(api, "PENDING", tags=["db"])
    propose(api, "task_runs", task["id"], {"type": "RUNNING"})
    propose(api, "task_runs", task["id"], {"type": "CRASHED"}, force=True)
    assert ConcurrencyLimit.objects.get(tag="db").active_slots == []


def test_waiting_on_schedule_gives_back_the_slot(api: ApiClient) -> None:
    api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 1})
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    task = make_task_run(api, tags=["db"], state={"type": "SCHEDULED", "state_details": {"scheduled_time": future}})
    assert propose(api, "task_runs", task["id"], {"type": "RUNNING"})[1]["status"] == WAIT
    assert ConcurrencyLimit.objects.get(tag="db").active_slots == []


def test_subflow_state_is_mirrored_onto_its_parent_task(api: ApiClient) -> None:
    parent = make_flow_run(api, "RUNNING")
    placeholder = make_task_run(api, "PENDING", flow_run=parent)
    child = make_flow_run(api, parent_task_run_id=placeholder["id"])
    assert api.get(f"/task_runs/{placeholder['id']}").json()["state_type"] == "PENDING"
    _, body = propose(api, "flow_runs", child["id"], {"type": "RUNNING"})
    assert body["state"]["state_details"]["task_run_id"] == placeholder["id"]
    task = api.get(f"/task_runs/{placeholder['id']}").json()
    assert task["state_type"] == "RUNNING"
    assert task["state"]["state_details"]["child_flow_run_id"] == child["id"]
    propose(api, "flow_runs", child["id"], {"type": "COMPLETED"})
    task = api.get(f"/task_runs/{placeholder['id']}").json()
    assert (task["state_type"], task["run_count"]) == ("COMPLETED", 1)
    # the parent finds its sub-flow through the filters
    found = api.post("/task_runs/filter", {"task_runs": {"subflow_runs": {"exists_": True}}}).json()
    assert [t["id"] for t in found] == [placeholder["id"]]
