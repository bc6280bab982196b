"""The admin's run pages, actions, dashboard and changelists, driven as an operator would
(runs made and checked through the API the Prefect client uses)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from tests.factories import FlowRunFactory
from tests.helpers import ApiClient


@pytest.fixture
def operator(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw-for-tests"))
    return client


def make_run(api: ApiClient, *, name: str = "nightly-etl", deployment: bool = False, **fields: Any) -> dict[str, Any]:
    flow = api.post("/flows/", {"name": f"flow-{uuid.uuid4().hex[:6]}", "tags": ["etl"]}).json()
    body: dict[str, Any] = {"flow_id": flow["id"], "name": name, **fields}
    if deployment:
        body["deployment_id"] = api.post("/deployments/", {"name": "d", "flow_id": flow["id"]}).json()["id"]
    return api.post("/flow_runs/", body).json()


def set_state(api: ApiClient, run_id: str, state_type: str, **extra: Any) -> dict[str, Any]:
    return api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": state_type, **extra}}).json()


def test_run_page_shows_summary_timeline_task_runs_and_logs(api: ApiClient, operator: Client) -> None:
    run = make_run(api, parameters={"rows": 3, "source": "s3://bucket"}, tags=["nightly"])
    set_state(api, run["id"], "RUNNING")
    task = api.post(
        "/task_runs/", {"flow_run_id": run["id"], "task_key": "extract", "dynamic_key": "0", "name": "extract-0"}
    ).json()
    now = timezone.now()
    api.post(
        "/logs/",
        [
            {
                "name": "prefect.flow_runs",
                "level": 20,
                "message": "starting",
                "timestamp": now.isoformat(),
                "flow_run_id": run["id"],
            },
            {
                "name": "prefect.flow_runs",
                "level": 40,
                "message": "it broke",
                "timestamp": (now + dt.timedelta(seconds=1)).isoformat(),
                "flow_run_id": run["id"],
            },
        ],
    )
    page = operator.get(f"/admin/runs_app/flowrun/{run['id']}/change/").content.decode()

    assert 'class="orion-state orion-state-running">Running</span>' in page
    assert '<span class="orion-tag">nightly</span>' in page
    assert "&quot;source&quot;: &quot;s3://bucket&quot;" in page
    # The timeline holds both states in order.
    timeline = page[page.index('<ol class="orion-timeline">') : page.index("</ol>")]
    assert timeline.index('orion-state-pending">Pending') < timeline.index('orion-state-running">Running')
    assert f'href="/admin/runs_app/taskrun/{task["id"]}/change/">extract-0</a>' in page
    assert '<div class="orion-log orion-log-error">' in page and "it broke" in page
    assert '<div class="orion-log orion-log-info">' in page
    assert f'href="/admin/runs_app/log/?workspace=1&amp;flow_run_id={run["id"]}"' in page
    for action in ("retry", "cancel", "mark-crashed", "set-state"):
        assert f"/admin/runs_app/flowrun/{run['id']}/action/{action}/" in page
    # Short text is a single-line input; JSON is the JSON editor, pretty-printed.
    assert '<input type="text" name="name" value="nightly-etl"' in page
    assert 'class="orion-json"' in page and "&quot;rows&quot;: 3" in page
    # Orchestration-written columns are not inputs.
    assert 'name="state_type"' not in page and 'name="run_count"' not in page


def test_log_tail_is_the_last_200_lines_with_a_link_to_the_rest(api: ApiClient, operator: Client) -> None:
    run = make_run(api)
    start = timezone.now()
    api.post(
        "/logs/",
        [
            {
                "name": "l",
                "level": 20,
                "message": f"line {i:03d}",
                "timestamp": (start + dt.timedelta(seconds=i)).isoformat(),
                "flow_run_id": run["id"],
            }
            for i in range(205)
        ],
    )
    page = operator.get(f"/admin/runs_app/flowrun/{run['id']}/change/").content.decode()
    assert "Logs (the last 200)" in page
    assert "line 004" not in page and "line 005" in page and "line 204" in page
    listing = operator.get(f"/admin/runs_app/log/?flow_run_id={run['id']}").content.decode()
    assert "line 204" in listing


def test_cancel_asks_first_then_goes_through_the_engine(api: ApiClient, operator: Client) -> None:
    run = make_run(api)
    set_state(api, run["id"], "RUNNING")
    url = f"/admin/runs_app/flowrun/{run['id']}/action/cancel/"
    confirm = operator.get(url).content.decode()
    assert "Yes, cancel" in confirm and "nightly-etl" in confirm
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "RUNNING"

    response = operator.post(url, {"reason": "stuck on a lock"}, follow=True)
    assert "The run is now Cancelled (CANCELLED)." in response.content.decode()
    state = api.get(f"/flow_runs/{run['id']}").json()["state"]
    assert (state["type"], state["message"]) == ("CANCELLED", "stuck on a lock")


def test_cancel_of_a_deployed_running_run_asks_its_worker_to_stop_it(api: ApiClient, operator: Client) -> None:
    run = make_run(api, deployment=True)
    set_state(api, run["id"], "RUNNING")
    operator.post(f"/admin/runs_app/flowrun/{run['id']}/action/cancel/", {"reason": ""})
    state = api.get(f"/flow_runs/{run['id']}").json()["state"]
    assert state["type"] == "CANCELLING"
    assert state["message"] == "Cancel from the admin by ops."


def test_retry_of_a_failed_deployed_run_reschedules_it(api: ApiClient, operator: Client) -> None:
    run = make_run(api, deployment=True)
    set_state(api, run["id"], "RUNNING")
    set_state(api, run["id"], "FAILED")
    response = operator.post(
        f"/admin/runs_app/flowrun/{run['id']}/action/retry/", {"reason": "fixed the bucket"}, follow=True
    )
    assert "The run is now AwaitingRetry (SCHEDULED)." in response.content.decode()
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["name"] == "AwaitingRetry"


def test_a_refusal_of_the_engine_is_reported_and_nothing_changes(api: ApiClient, operator: Client) -> None:
    run = make_run(api)
    set_state(api, run["id"], "RUNNING")
    set_state(api, run["id"], "COMPLETED")
    response = operator.post(f"/admin/runs_app/flowrun/{run['id']}/action/retry/", {}, follow=True)
    page = response.content.decode()
    assert "Orchestration answered ABORT: Cannot restart a run without an associated deployment." in page
    assert "deployment.." not in page
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "COMPLETED"


def test_set_state_needs_a_reason_and_is_forced(api: ApiClient, operator: Client) -> None:
    run = make_run(api)
    set_state(api, run["id"], "RUNNING")
    set_state(api, run["id"], "COMPLETED")
    url = f"/admin/runs_app/flowrun/{run['id']}/action/set-state/"
    refused = operator.post(url, {"state_type": "FAILED", "reason": ""})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    operator.post(url, {"state_type": "FAILED", "state_name": "DataMissing", "reason": "the input was empty"})
    state = api.get(f"/flow_runs/{run['id']}").json()["state"]
    assert (state["type"], state["name"], state["message"]) == ("FAILED", "DataMissing", "the input was empty")


def test_mark_a_task_run_crashed(api: ApiClient, operator: Client) -> None:
    run = make_run(api)
    set_state(api, run["id"], "RUNNING")
    task = api.post("/task_runs/", {"flow_run_id": run["id"], "task_key": "t", "dynamic_key": "0"}).json()
    page = operator.get(f"/admin/runs_app/taskrun/{task['id']}/change/").content.decode()
    assert f'href="/admin/runs_app/flowrun/{run["id"]}/change/">nightly-etl</a>' in page
    assert "/action/retry/" not in page
    operator.post(f"/admin/runs_app/taskrun/{task['id']}/action/mark-crashed/", {"reason": "host lost"})
    assert api.get(f"/task_runs/{task['id']}").json()["state"]["type"] == "CRASHED"


def test_unknown_action_and_missing_run_are_404(api: ApiClient, operator: Client) -> None:
    run = make_run(api)
    assert operator.get(f"/admin/runs_app/flowrun/{run['id']}/action/explode/").status_code == 404
    assert operator.get(f"/admin/runs_app/flowrun/{uuid.uuid4()}/action/cancel/").status_code == 404
    task = api.post("/task_runs/", {"flow_run_id": run["id"], "task_key": "t", "dynamic_key": "0"}).json()
    assert operator.get(f"/admin/runs_app/taskrun/{task['id']}/action/retry/").status_code == 404


def test_editing_a_run_saves_through_the_service_and_validates_json(api: ApiClient, operator: Client) -> None:
    run = make_run(api)
    url = f"/admin/runs_app/flowrun/{run['id']}/change/"
    bad = operator.post(url, {"name": "renamed", "tags": '["a"]', "parameters": "{not json", "work_queue_name": ""})
    assert "Enter a valid JSON." in bad.content.decode()
    operator.post(
        url,
        {
            "name": "renamed", "tags": '["a", "b"]', "parameters": '{"x": 1}', "work_queue_name": "", "context": "{}",
            "empirical_policy": "{}", "job_variables": "null", "states-TOTAL_FORMS": "0", "states-INITIAL_FORMS": "0",
        },
    )  # fmt: skip
    stored = api.get(f"/flow_runs/{run['id']}").json()
    assert (stored["name"], stored["tags"], stored["parameters"]) == ("renamed", ["a", "b"], {"x": 1})


def test_changelist_filters_and_prefix_search(api: ApiClient, operator: Client) -> None:
    failed = make_run(api, name="load-warehouse", tags=["critical"])
    set_state(api, failed["id"], "RUNNING")
    set_state(api, failed["id"], "FAILED")
    other = make_run(api, name="other-run")

    def names(query: str) -> set[str]:
        page = operator.get(f"/admin/runs_app/flowrun/?{query}").content.decode()
        return {name for name in ("load-warehouse", "other-run") if f">{name}</a>" in page}

    assert names("state_type__exact=FAILED") == {"load-warehouse"}
    assert names("tag=critical") == {"load-warehouse"}
    assert names("window=24h") == {"load-warehouse", "other-run"}
    assert names("q=load-") == {"load-warehouse"}
    assert names(f"q={other['id'][:8]}") == {"other-run"}
    assert names(f"q={other['id']}") == {"other-run"}
    assert names("q=warehouse") == set()  # a prefix search, not a substring scan


def test_dashboard_counts_by_state_late_runs_and_queues(api: ApiClient, operator: Client) -> None:
    from runs_app.background.late_runs import mark_late_runs

    done = make_run(api)
    set_state(api, done["id"], "RUNNING")
    set_state(api, done["id"], "COMPLETED")
    past = (timezone.now() - dt.timedelta(minutes=10)).isoformat()
    late = make_run(api, name="waiting-run", state={"type": "SCHEDULED", "state_details": {"scheduled_time": past}})
    mark_late_runs(now=timezone.now())
    # A client may name any state "Late": only a SCHEDULED one makes the run late.
    make_run(api, name="named-late-but-failed", state={"type": "FAILED", "name": "Late"})
    api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 2})

    page = operator.get("/admin/runs_app/flowrun/dashboard/").content.decode()
    listed = "/admin/runs_app/flowrun/?workspace=1&amp;"
    assert f'<a href="{listed}state_type__exact=COMPLETED&amp;window=24h">1</a>' in page
    assert f'<a href="{listed}state_type__exact=SCHEDULED&amp;window=7d">1</a>' in page
    assert f'Late runs: <a href="{listed}late=yes">1</a>' in page
    assert f'href="/admin/runs_app/flowrun/{late["id"]}/change/">waiting-run</a>' in page
    assert ">default</a>" in page  # the default work queue of the default pool
    assert f'<a href="{listed}tag=db">db</a>' in page
    late_list = operator.get("/admin/runs_app/flowrun/?late=yes").content.decode()
    assert "waiting-run" in late_list and "named-late-but-failed" not in late_list
    assert "/admin/runs_app/flowrun/dashboard/" in operator.get("/admin/").content.decode()


def test_changelist_counts_without_a_count_per_filter(
    api: ApiClient, operator: Client, django_assert_max_num_queries: Any
) -> None:
    for i in range(3):
        make_run(api, name=f"run-{i}")
    # session, user, the workspace filter's workspaces, the page's count, the page, the
    # flow and deployment filter choices of that workspace, the tag filter's flows (no
    # per-filter-choice counts, no full-table count).
    with django_assert_max_num_queries(9):
        assert operator.get("/admin/runs_app/flowrun/").status_code == 200


def test_task_runs_and_sub_flow_runs_are_linked_both_ways(
    api: ApiClient, operator: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runs_app.admin import page_selectors

    parent = make_run(api, name="parent-run")
    set_state(api, parent["id"], "RUNNING")
    tasks = [
        api.post(
            "/task_runs/",
            {"flow_run_id": parent["id"], "task_key": "load", "dynamic_key": str(i), "name": f"load-{i}"},
        ).json()
        for i in range(3)
    ]
    child = api.post(
        "/flow_runs/",
        {"flow_id": parent["flow_id"], "name": "child-run", "parent_task_run_id": tasks[0]["id"]},
    ).json()
    set_state(api, child["id"], "RUNNING")
    other = make_run(api, name="other-run")
    api.post("/task_runs/", {"flow_run_id": other["id"], "task_key": "x", "dynamic_key": "0", "name": "foreign-0"})
    # Fewer rows shown than there are: the page links to all of them.
    monkeypatch.setattr(page_selectors, "RELATED_RUNS_SHOWN", 2)

    page = operator.get(f"/admin/runs_app/flowrun/{parent['id']}/change/").content.decode()
    assert "Task runs (3)" in page
    assert f'href="/admin/runs_app/flowrun/{child["id"]}/change/">child-run</a>' in page
    assert 'class="orion-state orion-state-running">Running</span>' in page.split("<h2>Sub-flow runs</h2>")[1]
    link = f"/admin/runs_app/taskrun/?workspace=1&flow_run_id={parent['id']}"
    assert f'href="{link.replace("&", "&amp;")}">All 3 task runs</a>' in page
    listing = operator.get(link).content.decode()
    assert all(f"load-{i}" in listing for i in range(3)) and "foreign-0" not in listing

    # The sub-flow run links back to the task run it stands for, which links to both runs.
    child_page = operator.get(f"/admin/runs_app/flowrun/{child['id']}/change/").content.decode()
    assert f'href="/admin/runs_app/taskrun/{tasks[0]["id"]}/change/">load-0</a>' in child_page
    task_page = operator.get(f"/admin/runs_app/taskrun/{tasks[0]['id']}/change/").content.decode()
    assert f'href="/admin/runs_app/flowrun/{parent["id"]}/change/">parent-run</a>' in task_page
    assert f'href="/admin/runs_app/flowrun/{child["id"]}/change/">child-run</a>' in task_page


def test_task_run_page_has_single_line_inputs_json_editors_and_read_only_orchestration(
    api: ApiClient, operator: Client
) -> None:
    run = make_run(api)
    set_state(api, run["id"], "RUNNING")
    task = api.post(
        "/task_runs/",
        {"flow_run_id": run["id"], "task_key": "extract", "dynamic_key": "0", "name": "extract-0", "tags": ["db"]},
    ).json()
    answer = api.post(f"/task_runs/{task['id']}/set_state", {"state": {"type": "RUNNING"}}).json()
    assert answer["status"] == "ACCEPT", answer
    page = operator.get(f"/admin/runs_app/taskrun/{task['id']}/change/").content.decode()
    assert 'class="orion-state orion-state-running">Running</span>' in page
    assert '<input type="text" name="name" value="extract-0"' in page
    assert 'name="tags"' in page and 'class="orion-json"' in page
    for written_by_orchestration in ("state_type", "state_name", "run_count", "start_time", "flow_run"):
        assert f'name="{written_by_orchestration}"' not in page
    for action in ("cancel", "mark-crashed", "set-state"):
        assert f"/admin/runs_app/taskrun/{task['id']}/action/{action}/" in page


def test_run_page_duration_is_the_dashboards_whole_seconds_rounded_up(api: ApiClient, operator: Client) -> None:
    run = FlowRunFactory(state_type="COMPLETED", state_name="Completed", total_run_time=dt.timedelta(seconds=1.2))
    assert api.get(f"/flow_runs/{run.id}").json()["estimated_run_time"] == pytest.approx(1.2)
    page = operator.get(f"/admin/runs_app/flowrun/{run.id}/change/").content.decode()
    # The dashboard shows 1.2 s as "2s" (it rounds the seconds up); the admin says the same.
    assert "<dt>Duration</dt><dd>2s</dd>" in page
