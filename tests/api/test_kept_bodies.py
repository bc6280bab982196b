"""Filter bodies are validated once per distinct body and kept
(``orion_project.api.filtering.validate_body``). What makes that safe: a filter body's
validated data depends on the body alone (no clock, no database), every caller gets its
own copy, a body that fails is answered the same each time, and a body that keeps a JSON
value as sent (a state's ``data``) is never kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from orion_project.api import filtering
from orion_project.api.filtering import validate_body
from runs_app.api.flow_runs import FlowRunsCountRequest, FlowRunsFilterRequest
from runs_app.api.operations import FlowRunsBulkSetStateRequest
from tests.factories import FlowRunFactory
from tests.helpers import FLOW_RUN_FILTER_BODIES

pytestmark = pytest.mark.django_db

COMPLETED = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}


def test_a_kept_count_body_counts_what_the_database_holds_now(api) -> None:
    FlowRunFactory.create_batch(2, state_type="COMPLETED")
    assert api.post("/flow_runs/count", COMPLETED).json() == 2
    FlowRunFactory.create(state_type="COMPLETED")
    FlowRunFactory.create(state_type="FAILED")
    assert api.post("/flow_runs/count", COMPLETED).json() == 3
    rows = api.post("/flow_runs/filter", {**COMPLETED, "limit": 2}).json()
    assert len(rows) == 2 and api.post("/flow_runs/filter", {**COMPLETED, "limit": 2}).json() == rows


@pytest.mark.parametrize(
    "body",
    [
        {"flow_runs": {"state": {"type": {"any_": ["DONE"]}}}},
        {"flow_runs": {"nope": {}}},
        {"flow_runs": {"expected_start_time": {"after_": "yesterday"}}},
        {"flow_runs": {"id": {"any_": ["not-a-uuid", 1]}}},
    ],
)
def test_a_bad_body_is_answered_the_same_each_time(api, body: dict[str, Any]) -> None:
    first = api.post("/flow_runs/count", body)
    second = api.post("/flow_runs/count", body)
    assert first.status_code == second.status_code == 422
    assert first.content == second.content
    assert first.json()["exception_detail"][0]["loc"][:2] == ["body", "flow_runs"]


def test_every_caller_gets_its_own_copy() -> None:
    first = validate_body(FlowRunsFilterRequest, COMPLETED)
    first["flow_runs"]["state"]["type"]["any_"].append("FAILED")
    first["sort"] = "NAME_ASC"
    again = validate_body(FlowRunsFilterRequest, COMPLETED)
    assert again["flow_runs"]["state"]["type"]["any_"] == ["COMPLETED"]
    assert again["sort"] == "ID_DESC"


@pytest.mark.parametrize("serializer", [FlowRunsCountRequest, FlowRunsFilterRequest])
def test_a_kept_body_equals_its_validation_now(serializer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validated under two clocks with the database shut, and against a fresh
    validation: what is kept is what validating the body gives."""

    def refuse(*args: Any) -> Any:
        raise AssertionError("a body was validated with a database read")

    for body in FLOW_RUN_FILTER_BODIES:
        answers = []
        for now in (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2031, 6, 1, tzinfo=dt.UTC)):
            monkeypatch.setattr(timezone, "now", lambda now=now: now)
            with connection.execute_wrapper(refuse):
                answers.append(validate_body(serializer, body))
        assert answers[0] == answers[1] == filtering._validated(serializer, body)


def test_only_bodies_without_kept_json_values_are_kept() -> None:
    assert FlowRunsCountRequest in filtering._PURE_BODIES
    assert FlowRunsBulkSetStateRequest not in filtering._PURE_BODIES
    body = {"flow_runs": {"id": {"any_": []}}, "state": {"type": "CANCELLED", "data": {"b": 1, "a": 2}}}
    reordered = {**body, "state": {"type": "CANCELLED", "data": {"a": 2, "b": 1}}}
    assert list(validate_body(FlowRunsBulkSetStateRequest, body)["state"]["data"]) == ["b", "a"]
    assert list(validate_body(FlowRunsBulkSetStateRequest, reordered)["state"]["data"]) == ["a", "b"]
