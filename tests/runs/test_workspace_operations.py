"""The operations side of runs per workspace: history (from the rollup and from the runs),
graphs, bulk actions, retention, the liveness check, metrics, the commands and the seed.

Workspaces ``a`` and ``b`` hold runs of a flow of the same name; everything asked through
``/api/workspaces/b/...`` answers about ``b``'s runs alone and changes nothing of ``a``'s.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from flows_app.models import Flow
from orion_project.models import Workspace
from runs_app.background.metrics import run_counts_refresh
from runs_app.background.retention import retention_service
from runs_app.models import FlowRun, FlowRunHistoryBucket, FlowRunState, Log, RunStateCount, TaskRun
from runs_app.rollup.writes import ALL_FLOWS
from runs_app.services.purge import purge_workspace_runs
from tests.factories import FlowFactory, FlowRunFactory, TaskRunFactory
from tests.helpers import ApiClient, WorkspaceApi

pytestmark = pytest.mark.django_db

NOW = timezone.now()
# The final states a run of the data below is given, in turn.
FINALS = ("COMPLETED", "FAILED", "RUNNING", "SCHEDULED", "COMPLETED", "CANCELLED")


def workspace(slug: str) -> Workspace:
    return Workspace.objects.create(slug=slug)


def runs_in(space: Workspace, count: int, *, hours_apart: float = 1.7, first: float = 60.0) -> list[FlowRun]:
    """``count`` runs of the workspace's flow ``etl`` (made if missing), expected every
    ``hours_apart`` hours from ``first`` hours ago, each with a task run and a log line,
    their share in the history rollup."""
    flow = Flow.objects.filter(workspace=space, name="etl").first() or FlowFactory(workspace_id=space.id, name="etl")
    runs = []
    for index in range(count):
        expected = NOW - dt.timedelta(hours=first - hours_apart * index)
        final = FINALS[index % len(FINALS)]
        started = final in ("COMPLETED", "FAILED", "RUNNING")
        run = FlowRunFactory(
            workspace_id=space.id,
            flow=flow,
            state_type=final,
            state_name=final.capitalize(),
            state_timestamp=expected + dt.timedelta(minutes=5),
            expected_start_time=expected,
            start_time=expected + dt.timedelta(minutes=2) if started else None,
            end_time=expected + dt.timedelta(minutes=9) if final in ("COMPLETED", "FAILED", "CANCELLED") else None,
            total_run_time=dt.timedelta(minutes=7) if started else dt.timedelta(0),
        )
        TaskRunFactory(workspace_id=space.id, flow_run=run, state_type=final, expected_start_time=expected)
        Log.objects.create(
            workspace_id=space.id, name="x", level=20, message="hi", timestamp=expected, flow_run_id=run.id
        )
        runs.append(run)
    return runs


def history_totals(api: ApiClient, kind: str = "flow_runs", **filters: Any) -> Counter[str]:
    """Runs per state type over the last three days in hourly intervals (from the rollup
    for the whole hours, the runs for the current one and the slivers)."""
    body = {
        "history_start": (NOW - dt.timedelta(days=3, minutes=17)).isoformat(),
        "history_end": (NOW + dt.timedelta(hours=1)).isoformat(),
        "history_interval_seconds": 3600 * 5,
        **filters,
    }
    response = api.post(f"/{kind}/history", body)
    assert response.status_code == 200, response.content
    totals: Counter[str] = Counter()
    for interval in response.json():
        for state in interval["states"]:
            totals[state["state_type"]] += state["count_runs"]
    return totals


def stored_totals(space: Workspace, model: Any = FlowRun) -> Counter[str]:
    return Counter(model.objects.filter(workspace=space).values_list("state_type", flat=True))


@pytest.fixture
def spaces(client: Client) -> tuple[WorkspaceApi, WorkspaceApi]:
    """Workspaces ``a`` (18 runs) and ``b`` (7 runs), their APIs."""
    a, b = workspace("a"), workspace("b")
    runs_in(a, 18)
    runs_in(b, 7, hours_apart=3.1, first=50.0)
    return WorkspaceApi(client, "a"), WorkspaceApi(client, "b")


def test_history_of_a_workspace_counts_its_own_runs_only(spaces: tuple[WorkspaceApi, WorkspaceApi]) -> None:
    api_a, api_b = spaces
    a, b = Workspace.objects.get(slug="a"), Workspace.objects.get(slug="b")
    assert history_totals(api_a) == stored_totals(a)
    assert history_totals(api_b) == stored_totals(b)
    assert sum(history_totals(api_b).values()) == 7
    assert history_totals(api_b, "task_runs") == stored_totals(b, TaskRun)
    # A flow id of the other workspace names no flow here: nothing from the rollup or the runs.
    flow_a = Flow.objects.get(workspace=a, name="etl")
    assert history_totals(api_b, flows={"id": {"any_": [str(flow_a.id)]}}) == Counter()
    assert history_totals(api_b, flows={"name": {"any_": ["etl"]}}) == stored_totals(b)
    # The rollup keeps each workspace's all-flows rows apart.
    for space in (a, b):
        held = FlowRunHistoryBucket.objects.filter(workspace_id=space.id, flow_id=ALL_FLOWS)
        assert sum(held.values_list("count_runs", flat=True)) == FlowRun.objects.filter(workspace=space).count()


def test_graphs_of_another_workspaces_run_are_not_found(spaces: tuple[WorkspaceApi, WorkspaceApi]) -> None:
    api_a, api_b = spaces
    run = FlowRun.objects.filter(workspace__slug="a").first()
    assert run is not None
    assert api_a.get(f"/flow_runs/{run.id}/graph").status_code == 200
    assert len(api_a.get(f"/flow_runs/{run.id}/graph").json()) == 1
    assert api_a.get(f"/flow_runs/{run.id}/graph-v2").status_code == 200
    for route in ("graph", "graph-v2"):
        response = api_b.get(f"/flow_runs/{run.id}/{route}")
        assert response.status_code == 404, route


def test_bulk_actions_in_one_workspace_never_touch_another(spaces: tuple[WorkspaceApi, WorkspaceApi]) -> None:
    api_a, api_b = spaces
    a_states = dict(FlowRun.objects.filter(workspace__slug="a").values_list("id", "state_type"))
    a_ids = [str(run_id) for run_id in a_states]
    # A's runs named by id through B are not there.
    preview = api_b.post("/flow_runs/bulk_delete", {"flow_runs": {"id": {"any_": a_ids}}, "dry_run": True}).json()
    assert preview["count"] == 0
    assert api_b.post("/flow_runs/bulk_delete", {"flow_runs": {"id": {"any_": a_ids}}}).json() == {"deleted": 0}
    # Every run of B: B's alone.
    assert api_b.post("/flow_runs/bulk_delete", {"all": True, "dry_run": True}).json()["count"] == 7
    verdicts = api_b.post("/flow_runs/bulk_set_state", {"all": True, "state": {"type": "CANCELLED"}, "force": True})
    assert verdicts.json()["accepted"] == 7
    assert set(FlowRun.objects.filter(workspace__slug="b").values_list("state_type", flat=True)) == {"CANCELLED"}
    assert dict(FlowRun.objects.filter(workspace__slug="a").values_list("id", "state_type")) == a_states
    assert not FlowRunState.objects.filter(flow_run__workspace__slug="a", type="CANCELLED", name="Cancelled").exists()
    assert api_b.post("/flow_runs/bulk_delete", {"all": True}).json() == {"deleted": 7}
    assert not FlowRun.objects.filter(workspace__slug="b").exists()
    assert FlowRun.objects.filter(workspace__slug="a").count() == 18
    assert history_totals(api_a) == stored_totals(Workspace.objects.get(slug="a"))
    assert history_totals(api_b) == Counter()


def test_retention_prunes_every_workspace_each_by_its_own_runs(
    spaces: tuple[WorkspaceApi, WorkspaceApi], settings: Any
) -> None:
    api_a, api_b = spaces
    FlowRun.objects.filter(workspace__slug="a", end_time__isnull=False).update(end_time=NOW - dt.timedelta(days=40))
    FlowRun.objects.filter(workspace__slug="b", end_time__isnull=False).update(end_time=NOW - dt.timedelta(days=40))
    finished_a = FlowRun.objects.filter(workspace__slug="a", end_time__isnull=False).count()
    finished_b = FlowRun.objects.filter(workspace__slug="b", end_time__isnull=False).count()
    # The prune route of B plans and deletes B's runs only.
    plan = api_b.post("/flow_runs/prune", {"older_than": "30d", "dry_run": True}).json()
    assert plan["flow_runs"] == finished_b and plan["tables"]["runs_app.Log"] == finished_b
    settings.ORION_RETENTION_DAYS = 30
    assert retention_service() == finished_a + finished_b
    assert FlowRun.objects.filter(workspace__slug="a").count() == 18 - finished_a
    assert FlowRun.objects.filter(workspace__slug="b").count() == 7 - finished_b
    assert Log.objects.filter(workspace__slug="a").count() == 18 - finished_a
    assert history_totals(api_a) == stored_totals(Workspace.objects.get(slug="a"))
    assert history_totals(api_b) == stored_totals(Workspace.objects.get(slug="b"))


def test_orion_prune_and_bulk_commands_take_a_workspace(spaces: tuple[WorkspaceApi, WorkspaceApi]) -> None:
    before_b = FlowRun.objects.filter(workspace__slug="b").count()
    out = io.StringIO()
    call_command("orion_prune", "--older-than", "0d", "--workspace", "a", stdout=out, stderr=io.StringIO())
    assert "Workspace" not in out.getvalue()
    assert not FlowRun.objects.filter(workspace__slug="a", end_time__isnull=False).exists()
    assert FlowRun.objects.filter(workspace__slug="b").count() == before_b
    with pytest.raises(CommandError, match="Workspace 'nope' not found"):
        call_command("orion_prune", "--older-than", "0d", "--workspace", "nope", stdout=io.StringIO())
    for command in (["orion_stuck"], ["orion_runs", "delete", "--all"], ["orion_late_runs"]):
        with pytest.raises(CommandError, match="not found"):
            call_command(*command, "--workspace", "nope", stdout=io.StringIO())
    # Without --workspace: every workspace in turn, each headed by its slug.
    out = io.StringIO()
    call_command("orion_runs", "delete", "--state", "SCHEDULED", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line for line in lines if line.startswith("Workspace ")] == [
        "Workspace default:",
        "Workspace a:",
        "Workspace b:",
    ]
    call_command("orion_runs", "delete", "--state", "SCHEDULED", "--workspace", "b", stdout=io.StringIO())
    assert not FlowRun.objects.filter(workspace__slug="b", state_type="SCHEDULED").exists()
    assert FlowRun.objects.filter(workspace__slug="a", state_type="SCHEDULED").exists()


def test_stuck_runs_are_found_in_the_asking_workspace(spaces: tuple[WorkspaceApi, WorkspaceApi], settings: Any) -> None:
    api_a, api_b = spaces
    settings.ORION_STUCK_RUNNING_NO_DEPLOYMENT_SECONDS = 60
    FlowRun.objects.filter(state_type="RUNNING").update(updated=NOW - dt.timedelta(hours=1))
    TaskRun.objects.update(updated=NOW - dt.timedelta(hours=1))
    Log.objects.update(created=NOW - dt.timedelta(hours=1))
    found_a = api_a.post("/flow_runs/stuck", {"dry_run": True}).json()["flow_runs"]
    found_b = api_b.post("/flow_runs/stuck", {"dry_run": True}).json()["flow_runs"]
    running_a = {
        str(pk) for pk in FlowRun.objects.filter(workspace__slug="a", state_type="RUNNING").values_list("id", flat=True)
    }
    running_b = {
        str(pk) for pk in FlowRun.objects.filter(workspace__slug="b", state_type="RUNNING").values_list("id", flat=True)
    }
    assert {stuck["flow_run_id"] for stuck in found_a} == running_a
    assert {stuck["flow_run_id"] for stuck in found_b} == running_b
    call_command("orion_stuck", "--workspace", "b", stdout=io.StringIO())
    assert not FlowRun.objects.filter(workspace__slug="b", state_type="RUNNING").exists()
    assert FlowRun.objects.filter(workspace__slug="a", state_type="RUNNING").count() == len(running_a)


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(client.get("/api/metrics").content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_carry_a_workspace_label(spaces: tuple[WorkspaceApi, WorkspaceApi], client: Client) -> None:
    for slug in ("a", "b"):
        assert not RunStateCount.objects.filter(workspace_id=Workspace.objects.get(slug=slug).id).exists()
    samples = scrape(client)  # the service has not run: this scrape counts the task runs
    run_counts_refresh()
    assert RunStateCount.objects.filter(workspace_id=Workspace.objects.get(slug="b").id).count() > 0
    for current in (samples, scrape(client)):
        for slug in ("a", "b", "default"):
            space = Workspace.objects.get(slug=slug)
            for state_type in ("COMPLETED", "RUNNING", "SCHEDULED"):
                labels = (("state_type", state_type), ("workspace", slug))
                expected = FlowRun.objects.filter(workspace=space, state_type=state_type).count()
                assert current[("orion_flow_runs", labels)] == expected, (slug, state_type)
                expected = TaskRun.objects.filter(workspace=space, state_type=state_type).count()
                assert current[("orion_task_runs", labels)] == expected, (slug, state_type)
            assert current[("orion_late_flow_runs", (("workspace", slug),))] == 0
    # Every gauge about stored rows carries the label.
    for name, sample_labels in scrape(client):
        if name.startswith("orion_") and not name.startswith(("orion_service_", "orion_http_")):
            assert "workspace" in dict(sample_labels), name


def test_purging_a_workspaces_runs_leaves_the_others(spaces: tuple[WorkspaceApi, WorkspaceApi]) -> None:
    api_a, _ = spaces
    b = Workspace.objects.get(slug="b")
    run_counts_refresh()
    counts = purge_workspace_runs(workspace_id=b.id)
    assert counts["runs_app.FlowRun"] == 7 and counts["runs_app.Log"] == 7
    for model in (FlowRun, TaskRun, Log, FlowRunHistoryBucket, RunStateCount):
        assert not model.objects.filter(workspace_id=b.id).exists(), model
    a = Workspace.objects.get(slug="a")
    assert FlowRun.objects.filter(workspace=a).count() == 18 == Log.objects.filter(workspace=a).count()
    assert history_totals(api_a) == stored_totals(a)


@pytest.mark.django_db(transaction=True)
def test_seed_spreads_the_runs_over_workspaces(client: Client) -> None:
    call_command(
        "orion_seed", runs=300, flows=4, workspaces=2, no_vacuum=True, stdout=io.StringIO(), stderr=io.StringIO()
    )
    spread = Counter(FlowRun.objects.values_list("workspace__slug", flat=True))
    assert spread == {"ws-1": 150, "ws-2": 150}
    # Same flow names in both, each run of its own workspace's flow, with its rows.
    names = {slug: set(Flow.objects.filter(workspace__slug=slug).values_list("name", flat=True)) for slug in spread}
    assert names["ws-1"] == names["ws-2"] and len(names["ws-1"]) == 4
    assert not FlowRun.objects.exclude(flow__workspace_id=F("workspace_id")).exists()
    assert not FlowRunState.objects.exclude(flow_run__workspace_id=F("workspace_id")).exists()
    assert not TaskRun.objects.exclude(flow_run__workspace_id=F("workspace_id")).exists()
    # Seeding the same spread again adds nothing; each workspace's history is its runs'.
    call_command(
        "orion_seed", runs=300, flows=4, workspaces=2, no_vacuum=True, stdout=io.StringIO(), stderr=io.StringIO()
    )
    assert FlowRun.objects.count() == 300
    for slug in spread:
        api = WorkspaceApi(client, slug)
        body = {
            "history_start": (timezone.now() - dt.timedelta(days=31)).isoformat(),
            "history_end": (timezone.now() + dt.timedelta(hours=1)).isoformat(),
            "history_interval_seconds": 86400,
        }
        answer = api.post("/flow_runs/history", body).json()
        assert sum(state["count_runs"] for interval in answer for state in interval["states"]) == 150
