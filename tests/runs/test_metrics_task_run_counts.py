"""``/api/metrics`` task-run gauges: a workspace's task runs are counted once, by the
``metrics`` service or by the first scrape that finds the workspace uncounted, and every
scrape after it reads the stored counts, so no scrape's cost grows with the task runs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orion_project.models import Workspace
from runs_app.background.metrics import run_counts_refresh
from runs_app.models import RunStateCount, TaskRun
from runs_app.states import StateType
from tests.helpers import THREADS, ApiClient, WorkspaceApi, in_parallel, make_task_run, scrape

TASK_RUNS = "orion_task_runs"
COMPUTED = "orion_run_counts_computed_timestamp"


def counted(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], slug: str) -> dict[str, float]:
    """The scrape's task runs per state type of one workspace."""
    return {
        state_type: samples[(TASK_RUNS, (("state_type", state_type), ("workspace", slug)))]
        for state_type in StateType.values
    }


def stored_rows(slug: str) -> dict[str, int]:
    """Counting the workspace's task runs per state type."""
    workspace = Workspace.objects.get(slug=slug)
    return {
        state_type: TaskRun.objects.filter(workspace=workspace, state_type=state_type).count()
        for state_type in StateType.values
    }


def task_run_families(body: bytes) -> list[str]:
    """The exposition lines of the task-run gauges and of when they were counted."""
    return [
        line
        for line in body.decode().splitlines()
        if TASK_RUNS in line or (COMPUTED in line and 'kind="task_run"' in line)
    ]


def scrape_statements(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/metrics").status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def seed_task_runs(api: ApiClient, states: dict[str, int]) -> None:
    """Task runs of one flow run of the API's workspace, ``count`` in each state type."""
    flow_id = api.post("/flows/", {"name": "etl"}).json()["id"]
    flow_run = api.post("/flow_runs/", {"flow_id": flow_id, "state": {"type": "RUNNING"}}).json()
    for state_type, count in states.items():
        for _ in range(count):
            make_task_run(api, state_type, flow_run=flow_run)


def test_an_uncounted_workspace_is_counted_by_one_scrape_and_read_after(api: ApiClient, client: Client) -> None:
    Workspace.objects.create(slug="ops", name="ops")
    ops = WorkspaceApi(client, "ops")
    seed_task_runs(api, {"RUNNING": 2, "COMPLETED": 3, "FAILED": 1})
    seed_task_runs(ops, {"COMPLETED": 1, "PENDING": 2})
    assert not RunStateCount.objects.exists()

    first = client.get("/api/metrics")
    samples = scrape(client)
    for slug in ("default", "ops"):
        assert counted(samples, slug) == stored_rows(slug), slug
    # The first scrape stored what it counted; later ones read it and nothing else.
    assert RunStateCount.objects.filter(kind=RunStateCount.Kind.TASK_RUN).count() == 2 * len(StateType.values)
    statements = scrape_statements(client)
    assert not [sql for sql in statements if "runs_app_taskrun" in sql]
    assert len(statements) == 6
    assert task_run_families(client.get("/api/metrics").content) == task_run_families(first.content)


def test_stored_counts_wait_for_the_service_pass(api: ApiClient, client: Client) -> None:
    seed_task_runs(api, {"RUNNING": 1})
    before = scrape(client)
    assert counted(before, "default") == stored_rows("default")
    seed_task_runs(api, {"COMPLETED": 2})
    # As with the service's snapshot, new task runs show at its next pass, and the
    # timestamp says since when the counts are unchanged.
    after = scrape(client)
    assert counted(after, "default") == counted(before, "default") != stored_rows("default")
    labels = (("kind", "task_run"), ("workspace", "default"))
    assert after[(COMPUTED, labels)] == before[(COMPUTED, labels)]
    run_counts_refresh()
    refreshed = scrape(client)
    assert counted(refreshed, "default") == stored_rows("default")
    assert refreshed[(COMPUTED, labels)] > before[(COMPUTED, labels)]


def test_a_workspace_created_after_the_pass_is_counted_alone(api: ApiClient, client: Client) -> None:
    seed_task_runs(api, {"COMPLETED": 2})
    run_counts_refresh()
    Workspace.objects.create(slug="new", name="new")
    seed_task_runs(WorkspaceApi(client, "new"), {"RUNNING": 1, "COMPLETED": 1})
    new_id = Workspace.objects.get(slug="new").id

    reads = [sql for sql in scrape_statements(client) if "runs_app_taskrun" in sql]
    # One grouped count, of the uncounted workspace only.
    assert len(reads) == 1
    assert f'"workspace_id" IN ({new_id}) GROUP BY' in reads[0]
    samples = scrape(client)
    assert counted(samples, "new") == stored_rows("new")
    assert counted(samples, "default") == stored_rows("default")


def test_the_service_pass_still_counts_every_workspace_and_forgets_deleted_ones(api: ApiClient, client: Client) -> None:
    gone = Workspace.objects.create(slug="gone", name="gone")
    seed_task_runs(api, {"FAILED": 2})
    assert counted(scrape(client), "gone") == dict.fromkeys(StateType.values, 0)
    gone.delete()
    assert run_counts_refresh() == len(StateType.values)
    assert set(RunStateCount.objects.values_list("workspace_id", flat=True)) == {
        Workspace.objects.get(slug="default").id
    }
    assert counted(scrape(client), "default") == stored_rows("default")


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_scrapes_store_one_set_of_counts(api: ApiClient) -> None:
    seed_task_runs(api, {"RUNNING": 1, "COMPLETED": 2})
    answers = in_parallel(lambda client: client.get("/api/metrics"))
    assert [answer.status_code for answer in answers] == [200] * THREADS
    # Each answer's counts are the rows' (the answers differ at most in when they were counted).
    expected = [line for line in task_run_families(answers[0].content) if line.startswith(TASK_RUNS)]
    assert expected and all(
        [line for line in task_run_families(answer.content) if line.startswith(TASK_RUNS)] == expected
        for answer in answers
    )
    assert RunStateCount.objects.filter(kind=RunStateCount.Kind.TASK_RUN).count() == len(StateType.values)
    assert counted(scrape(Client()), "default") == stored_rows("default")
    connection.close()
