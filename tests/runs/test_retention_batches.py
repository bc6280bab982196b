"""Retention in many batches: after a prune (whole, stopped between batches, or failed in
the middle of one) every count and history answer of the API equals counting the runs,
no row points at a deleted run, and another workspace's rows are untouched.

Runs of three flows in two workspaces, expected over the last days, go through states
by the API (so the history rollup is kept by its writers); their task runs have states,
cache rows and logs, and one old run's task run stands for a sub-flow run that is kept.
The tests that stop or fail a prune commit each batch (``transaction=True``), as a prune
does outside tests: on PostgreSQL its foreign keys are then checked before the rollup is
touched.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from runs_app.background.retention import PrunePolicy, PruneResult, flow_runs_prune
from runs_app.models import FlowRun, FlowRunHistoryBucket, FlowRunState, Log, TaskRun, TaskRunState, TaskRunStateCache
from runs_app.services import purge
from runs_app.states import StateType
from tests.helpers import ApiClient, WorkspaceApi
from tests.runs.retention_helpers import dangling_rows, move
from tests.runs.rollup_helpers import assert_counts_match, assert_rollup_equals_scan

POLICY = PrunePolicy(older_than=dt.timedelta(days=2))
FINALS = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
TABLES = (FlowRun, FlowRunState, TaskRun, TaskRunState, TaskRunStateCache, Log)


def seed(api: ApiClient, runs: int = 14) -> list[str]:
    """``runs`` runs of three flows, expected every 7 hours back from now, each ran a
    cached task that logged, and all but every fifth finished (ended when expected); the
    flows' ids."""
    flows = [api.post("/flows/", {"name": f"etl-{uuid.uuid4().hex[:6]}"}).json()["id"] for _ in range(3)]
    now = timezone.now()
    for index in range(runs):
        expected = now - dt.timedelta(hours=7 * index + 1)
        state = {"type": "SCHEDULED", "state_details": {"scheduled_time": expected.isoformat()}}
        run = api.post("/flow_runs/", {"flow_id": flows[index % 3], "state": state}).json()
        assert move(api, run["id"], "PENDING") == "ACCEPT"
        assert move(api, run["id"], "RUNNING") == "ACCEPT"
        body = {"flow_run_id": run["id"], "task_key": "t", "dynamic_key": "0", "cache_key": uuid.uuid4().hex}
        task = api.post("/task_runs/", body).json()
        assert move(api, task["id"], "RUNNING", kind="task_runs") == "ACCEPT"
        cached = {"cache_key": body["cache_key"]}
        assert move(api, task["id"], "COMPLETED", kind="task_runs", state_details=cached) == "ACCEPT"
        line = {"name": "prefect", "level": 20, "message": "m", "timestamp": now.isoformat()}
        logs = [{**line, "flow_run_id": run["id"]}, {**line, "flow_run_id": run["id"], "task_run_id": task["id"]}]
        assert api.post("/logs/", logs).status_code == 201
        if index % 5:
            assert move(api, run["id"], FINALS[index % 4]) == "ACCEPT"
            FlowRun.objects.filter(pk=run["id"]).update(end_time=expected)
    # A sub-flow run of an old run's task run: kept by the prune (it is running), unlinked.
    parent = TaskRun.objects.filter(
        flow_run__flow_id__in=flows, flow_run__end_time__lt=now - dt.timedelta(days=2)
    ).first()
    assert parent is not None
    child = {"flow_id": flows[0], "parent_task_run_id": str(parent.id), "state": {"type": "RUNNING"}}
    assert api.post("/flow_runs/", child).status_code == 201
    return flows


def rows_of(workspace_id: int) -> dict[str, Any]:
    """Every row count of the workspace, and its rollup rows as they are."""
    counts: dict[str, Any] = {
        model.__name__: model.objects.filter(workspace_id=workspace_id).count() for model in TABLES
    }
    counts["rollup"] = sorted(
        FlowRunHistoryBucket.objects.filter(workspace_id=workspace_id).values_list(
            "flow_id", "bucket", "state_type", "state_name", "count_runs", "run_time_sum"
        )
    )
    return counts


def assert_exact(api: ApiClient, client: Client, monkeypatch: pytest.MonkeyPatch, flows: list[str]) -> None:
    """Counts, metrics and history of the default workspace equal counting its runs; no
    row anywhere names a run that is gone."""
    assert_counts_match(client)
    for state_type in StateType.values:
        body = {"flow_runs": {"state": {"type": {"any_": [state_type]}}}}
        counted = FlowRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID, state_type=state_type).count()
        assert api.post("/flow_runs/count", body).json() == counted, state_type
    assert api.post("/flow_runs/count", {}).json() == FlowRun.objects.filter(workspace_id=DEFAULT_WORKSPACE_ID).count()
    assert_rollup_equals_scan(api, monkeypatch, flows)
    assert dangling_rows() == {}


@pytest.fixture
def ops(client: Client) -> WorkspaceApi:
    Workspace.objects.create(slug="ops", name="ops")
    return WorkspaceApi(client, "ops")


def prunable() -> int:
    return FlowRun.objects.filter(
        workspace_id=DEFAULT_WORKSPACE_ID,
        state_type__in=FINALS,
        end_time__lte=timezone.now() - POLICY.older_than,
    ).count()


def test_a_prune_in_batches_through_the_api_keeps_every_answer_exact(
    api: ApiClient, ops: WorkspaceApi, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows, other = seed_both(api, ops)
    assert_exact(api, client, monkeypatch, flows)
    expected = prunable()
    assert expected >= 6

    answer = api.post("/flow_runs/prune", {"older_than": "2d", "batch_size": 2})

    assert answer.status_code == 200, answer.content
    assert answer.json()["flow_runs"] == expected and answer.json()["batches"] == (expected + 1) // 2
    assert prunable() == 0
    assert_exact(api, client, monkeypatch, flows)
    assert FlowRun.objects.filter(parent_task_run_id__isnull=False, workspace_id=DEFAULT_WORKSPACE_ID).count() == 0
    assert rows_of(ops.workspace.id) == other
    assert_counts_match(client, "ops")


def seed_both(api: ApiClient, ops: WorkspaceApi) -> tuple[list[str], dict[str, Any]]:
    """The default workspace's runs to prune, and the ``ops`` workspace's rows as they
    stand before (a prune must leave them)."""
    flows = seed(api)
    seed(ops, runs=10)
    return flows, rows_of(ops.workspace.id)


class Stop(Exception):
    """Stands for the process being stopped."""


@pytest.mark.django_db(transaction=True)
def test_a_prune_stopped_between_batches_leaves_a_consistent_database_and_the_next_continues(
    api: ApiClient, ops: WorkspaceApi, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows, other = seed_both(api, ops)
    expected = prunable()

    def stop_after_two(result: PruneResult) -> None:
        if result.batches == 2:
            raise Stop

    with pytest.raises(Stop):
        flow_runs_prune(policy=POLICY, workspace_id=DEFAULT_WORKSPACE_ID, batch_size=2, on_batch=stop_after_two)

    assert prunable() == expected - 4
    assert_exact(api, client, monkeypatch, flows)
    result = flow_runs_prune(policy=POLICY, workspace_id=DEFAULT_WORKSPACE_ID, batch_size=2)
    assert result.flow_runs == expected - 4 and prunable() == 0
    assert_exact(api, client, monkeypatch, flows)
    assert rows_of(ops.workspace.id) == other


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_leaves_nothing_half_written(
    api: ApiClient, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's last step fails: its deletes are undone with it, the batch before stays."""
    flows = seed(api)
    expected = prunable()
    forget = purge.flow_runs_history_forget
    calls = Counter[str]()

    def fail_second(runs: Any) -> None:
        calls["forget"] += 1
        if calls["forget"] == 2:
            raise Stop
        forget(runs)

    monkeypatch.setattr(purge, "flow_runs_history_forget", fail_second)
    with pytest.raises(Stop):
        flow_runs_prune(policy=POLICY, workspace_id=DEFAULT_WORKSPACE_ID, batch_size=3)
    monkeypatch.setattr(purge, "flow_runs_history_forget", forget)

    assert prunable() == expected - 3
    assert_exact(api, client, monkeypatch, flows)


def test_batches_are_sized_by_the_time_they_take(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch is sized from the last one's runs per second, grows at most twofold,
    and never passes the batch size."""
    seed(api, runs=20)
    clock = [0.0]

    def monotonic() -> float:  # each call moves on; a batch reads the clock twice
        clock[0] += 0.05
        return clock[0]

    monkeypatch.setattr(purge._BatchSizer, "START", 1)
    monkeypatch.setattr(purge, "time", SimpleNamespace(monotonic=monotonic))
    sizes: list[int] = []
    flow_runs_prune(
        policy=POLICY,
        workspace_id=DEFAULT_WORKSPACE_ID,
        batch_size=3,
        batch_seconds=0.1,
        on_batch=lambda result: sizes.append(result.flow_runs - sum(sizes)),
    )
    # 1 run in 0.05 s: 2 next (at most twice as many); 2 in 0.05 s: 3 (the batch size).
    assert sizes[:3] == [1, 2, 3] and set(sizes[2:-1]) == {3}
