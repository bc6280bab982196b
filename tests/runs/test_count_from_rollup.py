"""``POST /flow_runs/count`` answers from the history rollup when the filter allows,
and always answers what counting the runs answers."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.models import FlowRun, FlowRunHistoryBucket
from runs_app.rollup.reads import rollup_scope
from runs_app.selectors.runs import flow_runs_matching
from tests.factories import FlowFactory
from tests.runs.rollup_helpers import make_runs

ROLLUP = FlowRunHistoryBucket._meta.db_table


def bodies(flow_id: str) -> list[dict[str, Any]]:
    """Bodies the rollup answers, then bodies it cannot (the runs are counted)."""
    return [
        {},
        {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}},
        {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "RUNNING"]}, "name": {"any_": ["Scheduled"]}}}},
        {"flow_runs": {"state": {"type": {"any_": ["FAILED"]}, "name": {"any_": ["Cancelled"]}, "operator": "or_"}}},
        {"flows": {"id": {"any_": [flow_id]}}, "flow_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED"]}}}},
        {"flows": {"id": {"any_": []}}},
        {"flows": {"id": {"any_": ["00000000-0000-0000-0000-000000000000", flow_id]}}},  # the all-flows key
        {"flows": {"id": {"any_": ["00000000-0000-0000-0000-000000000001", flow_id]}}},  # the all-hours key
        # Not answerable from the rollup:
        {"flow_runs": {"tags": {"all_": ["x"]}, "state": {"type": {"any_": ["COMPLETED"]}}}},
        {"flows": {"name": {"any_": ["nothing"]}}},
        {"deployments": {"id": {"any_": [flow_id]}}},
    ]


@pytest.mark.django_db
def test_count_equals_counting_the_runs_for_every_filter(api) -> None:  # type: ignore[no-untyped-def]
    ids = make_runs(api)
    assert api.delete(f"/flow_runs/{ids[4]}").status_code == 204
    # A run without a state (none of the API's doors makes one; a bulk import might) is
    # outside the rollup and still counted.
    FlowRun.objects.create(flow=FlowFactory(), name="stateless", workspace_id=DEFAULT_WORKSPACE_ID)
    flow_id = api.get(f"/flow_runs/{ids[0]}").json()["flow_id"]
    for body in bodies(flow_id):
        expected = api.post("/flow_runs/filter", {**body, "limit": 200}).json()
        with CaptureQueriesContext(connection) as queries:
            answer = api.post("/flow_runs/count", body)
        assert answer.status_code == 200, answer.content
        assert answer.json() == len(expected), body
        from_rollup = any(ROLLUP in q["sql"] for q in queries.captured_queries)
        validated = {key: body.get(key) for key in ("flows", "flow_runs", "deployments")}
        scope = rollup_scope(validated)
        # An empty list of flows matches nothing without a statement.
        assert from_rollup == (scope is not None and scope.flow_ids != []), body
    assert api.post("/flow_runs/count", {}).json() == FlowRun.objects.count() == 36


@pytest.mark.django_db
def test_a_count_by_state_is_one_statement_over_the_rollup(api) -> None:  # type: ignore[no-untyped-def]
    make_runs(api)
    body = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    with CaptureQueriesContext(connection) as queries:
        answer = api.post("/flow_runs/count", body).json()
    assert answer == flow_runs_matching(filters=body, workspace_id=DEFAULT_WORKSPACE_ID).count() == 6
    statements = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert len(statements) == 1
    # The sum of the rollup rows plus the runs the rollup does not hold.
    assert ROLLUP in statements[0] and "IS NULL" in statements[0]


@pytest.mark.django_db
def test_a_body_is_compiled_once_and_its_answer_stays_live(api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The count's SQL is kept per body; the answer is not: runs written after the first
    request are counted by the next one, and another body gets its own statement."""
    from runs_app.selectors import runs as run_selectors

    flow_id = str(FlowFactory().id)
    body = {"flows": {"id": {"any_": [flow_id]}}, "flow_runs": {"state": {"type": {"any_": ["PENDING"]}}}}
    assert api.post("/flow_runs/count", body).json() == 0
    calls = []
    build = run_selectors._flow_run_count.build

    def counting(filters: Any, workspace_id: int) -> Any:
        calls.append(filters)
        return build(filters, workspace_id)

    monkeypatch.setattr(run_selectors._flow_run_count, "build", counting)
    for expected in (1, 2):
        assert api.post("/flow_runs/", {"flow_id": flow_id, "state": {"type": "PENDING"}}).status_code == 201
        assert api.post("/flow_runs/count", body).json() == expected
    assert calls == []  # compiled by the first request, before the runs existed
    other = {**body, "flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}
    assert api.post("/flow_runs/count", other).json() == 0
    assert len(calls) == 1
