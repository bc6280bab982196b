"""Answers that used to differ from the reference server (issue #13, part A).

Every expected value below is what a live reference server answered to the same request
(2.7.12 started with ``prefect orion start``; where noted, 2.20.26 with ``prefect server
start`` gave the same answer).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from tests.factories import FlowFactory
from tests.helpers import ApiClient

ACCEPT, REJECT, ABORT = "ACCEPT", "REJECT", "ABORT"


# ----------------------------------------------------------------- 1. the OpenAPI document


def test_openapi_json_is_served_as_json(api: ApiClient) -> None:
    # 2.7.12: 200, content-type application/json, body {"openapi": "3.0.2", ...}
    response = api.client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["openapi"].startswith("3.")
    assert "/api/flows/filter" in response.json()["paths"]


def test_openapi_yaml_keeps_its_own_url(api: ApiClient) -> None:
    response = api.client.get("/api/openapi.yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: ")


# ------------------------------------------------------------- 2./3. schedule time zones


def _deployment(api: ApiClient, schedule: dict[str, Any], name: str = "d") -> dict[str, Any]:
    flow = FlowFactory()
    response = api.post("/deployments/", {"name": name, "flow_id": str(flow.id), "schedule": schedule})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def _scheduled_starts(api: ApiClient, deployment_id: str) -> list[str]:
    body = {"deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    return [run["expected_start_time"] for run in api.post("/flow_runs/filter", body).json()]


WINDOW = {"start_time": "2039-12-31T00:00:00Z", "end_time": "2040-01-03T00:00:00Z", "max_runs": 3}


@pytest.mark.parametrize(
    ("schedule", "expected_starts"),
    [
        # the example: a DTSTART without a zone is read as UTC
        (
            {"rrule": "DTSTART:20400101T000000\nRRULE:FREQ=HOURLY;COUNT=10"},
            ["2040-01-01T00:00:00+00:00", "2040-01-01T01:00:00+00:00", "2040-01-01T02:00:00+00:00"],
        ),
        # ... or in the schedule's zone when it has one (midnight in Paris)
        (
            {"rrule": "DTSTART:20400101T000000\nRRULE:FREQ=HOURLY;COUNT=10", "timezone": "Europe/Paris"},
            ["2039-12-31T23:00:00+00:00", "2040-01-01T00:00:00+00:00", "2040-01-01T01:00:00+00:00"],
        ),
        # a DTSTART with its own TZID is read as a wall-clock time in the schedule's zone
        (
            {"rrule": "DTSTART;TZID=America/New_York:20400101T000000\nRRULE:FREQ=HOURLY;COUNT=10"},
            ["2040-01-01T00:00:00+00:00", "2040-01-01T01:00:00+00:00", "2040-01-01T02:00:00+00:00"],
        ),
        # an anchor with an offset: dates before the anchor count too
        (
            {"interval": 3600, "anchor_date": "2040-01-01T00:00:00+02:00"},
            ["2039-12-31T00:00:00+00:00", "2039-12-31T01:00:00+00:00", "2039-12-31T02:00:00+00:00"],
        ),
        (
            {"interval": 3600, "anchor_date": "2040-01-01T00:00:00"},
            ["2039-12-31T00:00:00+00:00", "2039-12-31T01:00:00+00:00", "2039-12-31T02:00:00+00:00"],
        ),
    ],
)
def test_schedule_route_schedules_runs_for_every_accepted_schedule(
    api: ApiClient, schedule: dict[str, Any], expected_starts: list[str]
) -> None:
    # 2.7.12: 200 null, and these expected start times
    deployment = _deployment(api, schedule)
    response = api.post(f"/deployments/{deployment['id']}/schedule", WINDOW)
    assert (response.status_code, response.json()) == (200, None)
    assert _scheduled_starts(api, deployment["id"]) == expected_starts


def test_rrule_without_dtstart_starts_when_it_is_evaluated(api: ApiClient) -> None:
    # 2.7.12: "FREQ=HOURLY" scheduled in a window far ahead fires at the minute and second
    # of the moment /schedule was called (the rule's start is "now").
    deployment = _deployment(api, {"rrule": "FREQ=HOURLY"})
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    api.post(f"/deployments/{deployment['id']}/schedule", WINDOW)
    after = dt.datetime.now(dt.UTC)
    starts = [dt.datetime.fromisoformat(value) for value in _scheduled_starts(api, deployment["id"])]
    assert [value.hour for value in starts] == [0, 1, 2]
    moments = {
        (before + dt.timedelta(seconds=s)).strftime("%M:%S") for s in range(int((after - before).total_seconds()) + 1)
    }
    assert {value.strftime("%M:%S") for value in starts} <= moments


@pytest.mark.parametrize(
    ("schedule", "echoed"),
    [
        ({"interval": 3600, "anchor_date": "2040-01-01T00:00:00+00:00"}, {"timezone": "UTC"}),
        ({"interval": 3600, "anchor_date": "2040-01-01T00:00:00+02:00"}, {"timezone": "UTC"}),
        ({"cron": "0 * * * *"}, {"timezone": None, "day_or": True}),
        ({"cron": "0 * * * *", "timezone": "America/New_York"}, {"timezone": "America/New_York", "day_or": True}),
        ({"rrule": "FREQ=HOURLY"}, {"timezone": "UTC"}),
        ({"rrule": "DTSTART:20400101T000000Z\nRRULE:FREQ=HOURLY;COUNT=10"}, {"timezone": "UTC"}),
        ({"rrule": "DTSTART;TZID=America/New_York:20400101T000000\nRRULE:FREQ=HOURLY"}, {"timezone": "UTC"}),
    ],
)
def test_schedule_time_zone_echo_on_create_read_patch_and_upsert(
    api: ApiClient, schedule: dict[str, Any], echoed: dict[str, Any]
) -> None:
    # 2.7.12: interval and RRule without a zone answer "UTC", cron answers null
    expected = {**schedule, **echoed}
    if "interval" in schedule:
        expected["interval"] = float(schedule["interval"])
    created = _deployment(api, schedule, name="tz")
    assert created["schedule"] == expected
    assert api.get(f"/deployments/{created['id']}").json()["schedule"] == expected
    assert api.patch(f"/deployments/{created['id']}", {"schedule": schedule}).status_code == 204
    assert api.get(f"/deployments/{created['id']}").json()["schedule"] == expected
    upsert = api.post("/deployments/", {"name": "tz", "flow_id": created["flow_id"], "schedule": schedule})
    assert (upsert.status_code, upsert.json()["schedule"]) == (200, expected)


# ---------------------------------------------------------------- 4. leaving PAUSED

# Target state, force → verdict, reason, the run's state (type, name), run_count,
# empirical_policy.resuming; pause_keys stays ["k1"] in every row. Then the next two
# proposals (PENDING, RUNNING; never forced) and what the run looks like after them.
PAUSED_ROW = [
    ("SCHEDULED", False, ACCEPT, None, ("SCHEDULED", "Scheduled"), 1, True, ("ACCEPT", "ACCEPT"), ("RUNNING", 1, False)),
    ("PENDING", False, REJECT, "This run cannot transition to the StateType.PENDING state from the StateType.PAUSED state.", ("PAUSED", "Paused"), 1, True, ("REJECT", "ACCEPT"), ("RUNNING", 1, True)),
    ("RUNNING", False, ACCEPT, None, ("RUNNING", "Running"), 2, True, ("ABORT", "ABORT"), ("RUNNING", 2, True)),
    ("COMPLETED", False, ACCEPT, None, ("COMPLETED", "Completed"), 1, True, ("ABORT", "ABORT"), ("COMPLETED", 1, True)),
    ("FAILED", False, ACCEPT, None, ("FAILED", "Failed"), 1, True, ("ABORT", "ABORT"), ("FAILED", 1, True)),
    ("CANCELLED", False, ACCEPT, None, ("CANCELLED", "Cancelled"), 1, True, ("ABORT", "ABORT"), ("CANCELLED", 1, True)),
    ("CRASHED", False, ACCEPT, None, ("CRASHED", "Crashed"), 1, True, ("ABORT", "ABORT"), ("CRASHED", 1, True)),
    ("PAUSED", False, REJECT, "Cannot pause flows that are not currently running.", ("PAUSED", "Paused"), 1, False, ("REJECT", "ACCEPT"), ("RUNNING", 1, True)),
    ("CANCELLING", False, REJECT, "This run cannot transition to the StateType.CANCELLING state from the StateType.PAUSED state.", ("PAUSED", "Paused"), 1, True, ("REJECT", "ACCEPT"), ("RUNNING", 1, True)),
    ("SCHEDULED", True, ACCEPT, None, ("SCHEDULED", "Scheduled"), 1, False, ("ACCEPT", "ACCEPT"), ("RUNNING", 2, False)),
    ("PENDING", True, ACCEPT, None, ("PENDING", "Pending"), 1, False, ("ABORT", "ACCEPT"), ("RUNNING", 2, False)),
    ("RUNNING", True, ACCEPT, None, ("RUNNING", "Running"), 2, False, ("ABORT", "ABORT"), ("RUNNING", 2, False)),
    ("COMPLETED", True, ACCEPT, None, ("COMPLETED", "Completed"), 1, False, ("ABORT", "ABORT"), ("COMPLETED", 1, False)),
    ("FAILED", True, ACCEPT, None, ("FAILED", "Failed"), 1, False, ("ABORT", "ABORT"), ("FAILED", 1, False)),
    ("CANCELLED", True, ACCEPT, None, ("CANCELLED", "Cancelled"), 1, False, ("ABORT", "ABORT"), ("CANCELLED", 1, False)),
    ("CRASHED", True, ACCEPT, None, ("CRASHED", "Crashed"), 1, False, ("ABORT", "ABORT"), ("CRASHED", 1, False)),
    ("PAUSED", True, ACCEPT, None, ("PAUSED", "Paused"), 1, False, ("REJECT", "ACCEPT"), ("RUNNING", 1, True)),
    ("CANCELLING", True, ACCEPT, None, ("CANCELLING", "Cancelling"), 1, False, ("REJECT", "REJECT"), ("CANCELLING", 1, False)),
]  # fmt: skip


def _set_state(api: ApiClient, run_id: str, state: dict[str, Any], force: bool = False) -> dict[str, Any]:
    response = api.post(f"/flow_runs/{run_id}/set_state", {"state": state, "force": force})
    assert response.status_code in (200, 201), response.content
    return response.json()  # type: ignore[no-any-return]


def _paused_run(api: ApiClient, pause_timeout: str = "2099-01-01T00:00:00Z") -> str:
    flow = FlowFactory()
    run_id: str = api.post("/flow_runs/", {"flow_id": str(flow.id), "state": {"type": "PENDING"}}).json()["id"]
    _set_state(api, run_id, {"type": "RUNNING"})
    paused = {"type": "PAUSED", "name": "Paused", "state_details": {"pause_key": "k1", "pause_timeout": pause_timeout}}
    assert _set_state(api, run_id, paused)["status"] == ACCEPT
    return run_id


def _run_view(api: ApiClient, run_id: str) -> tuple[tuple[str, str], int, bool, list[str]]:
    """(state type and name, run_count, empirical_policy.resuming, .pause_keys)."""
    run = api.get(f"/flow_runs/{run_id}").json()
    policy = run["empirical_policy"]
    return (run["state"]["type"], run["state"]["name"]), run["run_count"], policy["resuming"], policy["pause_keys"]


@pytest.mark.parametrize(
    ("target", "force", "verdict", "reason", "state", "run_count", "resuming", "next_verdicts", "after_next"),
    PAUSED_ROW,
)
def test_paused_row_of_the_transition_table(
    api: ApiClient,
    target: str,
    force: bool,
    verdict: str,
    reason: str | None,
    state: tuple[str, str],
    run_count: int,
    resuming: bool,
    next_verdicts: tuple[str, str],
    after_next: tuple[str, int, bool],
) -> None:
    run_id = _paused_run(api)
    assert _run_view(api, run_id) == (("PAUSED", "Paused"), 1, False, ["k1"])
    result = _set_state(api, run_id, {"type": target}, force=force)
    assert (result["status"], result["details"].get("reason")) == (verdict, reason)
    assert (result["state"]["type"], result["state"]["name"]) == state
    assert _run_view(api, run_id) == (state, run_count, resuming, ["k1"])
    # the next entries into PENDING and RUNNING read the mark
    verdicts = (
        _set_state(api, run_id, {"type": "PENDING"})["status"],
        _set_state(api, run_id, {"type": "RUNNING"})["status"],
    )
    assert verdicts == next_verdicts
    (state_type, _), count, marked, keys = _run_view(api, run_id)
    assert (state_type, count, marked, keys) == (*after_next, ["k1"])


def test_expired_pause_fails_and_still_marks_the_run_resuming(api: ApiClient) -> None:
    run_id = _paused_run(api, pause_timeout="2000-01-01T00:00:00Z")
    result = _set_state(api, run_id, {"type": "RUNNING"})
    assert (result["status"], result["details"]["reason"], result["state"]["type"]) == (
        REJECT,
        "The flow run pause has timed out and can no longer resume.",
        "FAILED",
    )
    assert _run_view(api, run_id) == (("FAILED", "Failed"), 1, True, ["k1"])


def test_resume_route_counts_a_run_and_marks_resuming(api: ApiClient) -> None:
    run_id = _paused_run(api)
    response = api.post(f"/flow_runs/{run_id}/resume")
    assert (response.status_code, response.json()["status"], response.json()["state"]["type"]) == (
        201,
        ACCEPT,
        "RUNNING",
    )
    assert _run_view(api, run_id) == (("RUNNING", "Running"), 2, True, ["k1"])


# ------------------------------------------------------------------------ 5. secret masks

SECRET_SCHEMA_FIELDS = {
    "title": "FidSecret",
    "type": "object",
    "properties": {},
    "secret_fields": ["password", "short", "creds.*", "top"],
    "block_schema_references": {},
}


# What the document stores (include_secrets=true shows it).
STORED = {
    "password": "hunter2hunter2-long-secret",
    "short": "abc",
    "creds": {"a": "x", "b": 1, "c": None, "d": {"e": "f"}, "z": {}},
    "top": {"k": "v"},
    "plain": "p",
    "empty": None,
}


@pytest.fixture
def secret_document(api: ApiClient) -> dict[str, Any]:
    block_type = api.post("/block_types/", {"name": "Fid Secret", "slug": "fid-secret"}).json()
    schema = api.post(
        "/block_schemas/", {"fields": SECRET_SCHEMA_FIELDS, "block_type_id": block_type["id"], "capabilities": []}
    ).json()
    body = {"name": "fid", "data": STORED, "block_schema_id": schema["id"], "block_type_id": block_type["id"]}
    response = api.post("/block_documents/", body)
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def _stored(api: ApiClient, document_id: str) -> dict[str, Any]:
    return api.get(f"/block_documents/{document_id}?include_secrets=true").json()["data"]  # type: ignore[no-any-return]


def test_secret_values_are_masked_with_eight_asterisks(api: ApiClient, secret_document: dict[str, Any]) -> None:
    # 2.7.12 and 2.20.26: every secret leaf is "********" (a wildcard masks null and empty
    # leaves too, an exact path leaves a null or a whole object alone)
    masked = {
        "password": "********",
        "short": "********",
        "creds": {"a": "********", "b": "********", "c": "********", "d": {"e": "********"}, "z": "********"},
        "top": {"k": "v"},
        "plain": "p",
        "empty": None,
    }
    assert secret_document["data"] == masked
    assert api.get(f"/block_documents/{secret_document['id']}").json()["data"] == masked
    listed = api.post("/block_documents/filter", {"block_documents": {"id": {"any_": [secret_document["id"]]}}})
    assert listed.json()[0]["data"] == masked


@pytest.mark.parametrize("merge", [True, False])
def test_saving_back_a_masked_document_keeps_the_secrets(
    api: ApiClient, secret_document: dict[str, Any], merge: bool
) -> None:
    # 2.7.12 / 2.20.26 with merge_existing_data true: 204, every secret kept. (With false
    # the reference drops the top-level secrets it recognises; this server keeps them.)
    masked = api.get(f"/block_documents/{secret_document['id']}").json()["data"]
    response = api.patch(f"/block_documents/{secret_document['id']}", {"data": masked, "merge_existing_data": merge})
    assert response.status_code == 204
    assert _stored(api, secret_document["id"]) == STORED


def test_the_old_ten_asterisk_mask_never_overwrites_a_secret(api: ApiClient, secret_document: dict[str, Any]) -> None:
    # This server masked with 10 asterisks before; a client may still hold such a copy.
    old_copy = {"password": "*" * 10, "creds": {"a": "*" * 10, "b": "*" * 8}, "short": "new"}
    assert api.patch(f"/block_documents/{secret_document['id']}", {"data": old_copy}).status_code == 204
    assert _stored(api, secret_document["id"]) == {**STORED, "creds": {"a": "x", "b": 1}, "short": "new"}


# ------------------------------------------------------------ 6. unknown block type


def test_block_schema_for_an_unknown_block_type_is_a_detail_404(api: ApiClient) -> None:
    missing = uuid.uuid4()
    response = api.post("/block_schemas/", {"fields": {}, "block_type_id": str(missing), "capabilities": []})
    # 2.7.12: 404 {"detail": "Block type <id> not found."}
    assert (response.status_code, response.json()) == (404, {"detail": f"Block type {missing} not found."})


# ------------------------------------------------------ 8. unknown top-level body keys

HISTORY = {
    "history_start": "2040-01-01T00:00:00Z",
    "history_end": "2040-01-01T02:00:00Z",
    "history_interval_seconds": 3600,
}

# Every route whose body is made of several parameters, with a valid body.
MULTI_KEY_BODIES = [
    ("/flows/filter", {}),
    ("/flows/count", {}),
    ("/flow_runs/filter", {}),
    ("/flow_runs/count", {}),
    ("/flow_runs/history", HISTORY),
    ("/task_runs/filter", {}),
    ("/task_runs/count", {}),
    ("/task_runs/history", HISTORY),
    ("/deployments/filter", {}),
    ("/deployments/count", {}),
    ("/logs/filter", {}),
    ("/block_types/filter", {}),
    ("/block_schemas/filter", {}),
    ("/block_documents/filter", {}),
    ("/work_queues/filter", {}),
    ("/concurrency_limits/filter", {}),
    ("/saved_searches/filter", {}),
    ("/flow_run_notification_policies/filter", {}),
    ("/ui/flow_runs/history", {}),
]


@pytest.mark.parametrize(("path", "body"), MULTI_KEY_BODIES)
def test_unknown_top_level_keys_are_ignored(api: ApiClient, path: str, body: dict[str, Any]) -> None:
    # 2.7.12: e.g. POST /flows/count {"sort": "NAME_ASC", "limit": 50} → 200 0, the
    # stock dashboard's count bodies; {"bogus": 1} on any of these routes → 200
    plain = api.post(path, body)
    unknown: dict[str, Any] = {"bogus": 1}
    if path.endswith("/count"):
        unknown.update(sort="NAME_ASC", limit=50)
    extended = api.post(path, {**body, **unknown})
    assert (extended.status_code, extended.json()) == (plain.status_code, plain.json())
    assert plain.status_code == 200


def test_dashboard_count_body_is_answered(api: ApiClient) -> None:
    FlowFactory()
    response = api.post("/flows/count", {"sort": "NAME_ASC", "limit": 50})
    assert (response.status_code, response.json()) == (200, 1)


def test_unknown_top_level_keys_are_ignored_on_set_state_and_get_runs(api: ApiClient) -> None:
    queue = api.post("/work_queues/", {"name": "q"}).json()
    response = api.post(f"/work_queues/{queue['id']}/get_runs", {"limit": 3, "bogus": 1})
    assert (response.status_code, response.json()) == (200, [])
    run_id = _paused_run(api)
    result = api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": "RUNNING"}, "bogus": 1})
    assert (result.status_code, result.json()["status"]) == (201, ACCEPT)


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/flows/count", {"flows": {"bogus": 1}}, ["body", "flows", "bogus"]),
        ("/flows/filter", {"flows": {"name": {"bogus": 1}}}, ["body", "flows", "name", "bogus"]),
        ("/flow_runs/filter", {"flow_runs": {"state": {"bogus": 1}}}, ["body", "flow_runs", "state", "bogus"]),
        ("/deployments/filter", {"flow_runs": {"bogus": 1}}, ["body", "flow_runs", "bogus"]),
        ("/flow_runs/set_state", None, None),
    ],
)
def test_unknown_keys_inside_a_filter_are_still_rejected(
    api: ApiClient, path: str, body: dict[str, Any] | None, loc: list[str] | None
) -> None:
    if body is None:  # inside the state object of a set_state body
        run_id = _paused_run(api)
        response = api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": "RUNNING", "bogus": 1}})
        assert response.status_code == 422
        assert response.json()["exception_detail"][0]["loc"] == ["body", "state", "bogus"]
        return
    # 2.7.12: 422 with value_error.extra at the key's location
    response = api.post(path, body)
    assert response.status_code == 422
    assert response.json()["exception_detail"] == [
        {"loc": loc, "msg": "extra fields not permitted", "type": "value_error.extra"}
    ]
