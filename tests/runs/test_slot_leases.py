"""Tag concurrency slots that cannot leak (issue 11, item 6): a slot is freed when its holder
is no longer RUNNING, its flow run is final or deleted, or it is held past the limit's
maximum hold time; acquisitions free stale slots first and the services sweep the rest."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from runs_app.background.slots import sweep_stale_slots
from runs_app.models import ConcurrencyLimit, FlowRun
from tests.factories import FlowFactory
from tests.helpers import ApiClient


def running_flow_run(api: ApiClient) -> str:
    run = api.post("/flow_runs/", {"flow_id": str(FlowFactory().id)}).json()
    assert api.post(f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}}).json()["status"] == "ACCEPT"
    return str(run["id"])


def task_run(api: ApiClient, flow_run_id: str, key: str, tags: list[str]) -> str:
    body = {"flow_run_id": flow_run_id, "task_key": key, "dynamic_key": "0", "tags": tags}
    return str(api.post("/task_runs/", body).json()["id"])


def propose(api: ApiClient, task_run_id: str, state_type: str) -> str:
    answer = api.post(f"/task_runs/{task_run_id}/set_state", {"state": {"type": state_type}}).json()
    return str(answer["status"])


def start(api: ApiClient, task_run_id: str) -> str:
    """A new task run is PENDING; the verdict of its RUNNING proposal."""
    return propose(api, task_run_id, "RUNNING")


def slots(tag: str = "db") -> list[str]:
    return list(ConcurrencyLimit.objects.get(tag=tag).active_slots)


@pytest.fixture
def limit(api: ApiClient) -> dict[str, Any]:
    return dict(api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 1}).json())


def test_a_crashed_flow_run_gives_back_its_tasks_slots(api: ApiClient, limit: dict[str, Any]) -> None:
    flow_run = running_flow_run(api)
    holder = task_run(api, flow_run, "query", ["db"])
    assert start(api, holder) == "ACCEPT"
    assert slots() == [holder]
    other = task_run(api, running_flow_run(api), "query", ["db"])
    assert start(api, other) == "WAIT"  # the tag is full

    # The flow run's process is killed: the agent reports it CRASHED, the task never reports.
    crashed = api.post(f"/flow_runs/{flow_run}/set_state", {"state": {"type": "CRASHED"}}).json()
    assert crashed["status"] == "ACCEPT"
    assert api.get(f"/task_runs/{holder}").json()["state"]["type"] == "RUNNING"
    assert slots() == []  # freed with the flow run's final state
    assert propose(api, other, "RUNNING") == "ACCEPT"
    assert slots() == [other]
    assert api.get(f"/concurrency_limits/{limit['id']}").json()["active_slots"] == [other]


def test_a_forced_final_state_also_frees_the_slots(api: ApiClient, limit: dict[str, Any]) -> None:
    flow_run = running_flow_run(api)
    holder = task_run(api, flow_run, "query", ["db"])
    start(api, holder)
    forced = api.post(f"/flow_runs/{flow_run}/set_state", {"state": {"type": "CANCELLED"}, "force": True})
    assert forced.json()["status"] == "ACCEPT"
    assert slots() == []


def test_acquiring_frees_the_slot_of_a_deleted_holder(api: ApiClient, limit: dict[str, Any]) -> None:
    flow_run = running_flow_run(api)
    holder = task_run(api, flow_run, "query", ["db"])
    start(api, holder)
    assert api.delete(f"/flow_runs/{flow_run}").status_code == 204  # its task runs go with it
    assert slots() == [holder]  # nobody released it ...
    other = task_run(api, running_flow_run(api), "query", ["db"])
    assert start(api, other) == "ACCEPT"  # ... the acquisition frees it first
    assert slots() == [other]


def test_acquiring_frees_a_slot_whose_flow_run_ended_without_the_rule(api: ApiClient, limit: dict[str, Any]) -> None:
    """A slot leaked before this version (or by a write outside orchestration) is freed too."""
    flow_run = running_flow_run(api)
    holder = task_run(api, flow_run, "query", ["db"])
    start(api, holder)
    FlowRun.objects.filter(pk=flow_run).update(state_type="CRASHED")
    other = task_run(api, running_flow_run(api), "query", ["db"])
    assert start(api, other) == "ACCEPT"
    assert slots() == [other]


def test_a_slot_held_past_the_maximum_hold_time_is_swept(api: ApiClient, limit: dict[str, Any]) -> None:
    ConcurrencyLimit.objects.filter(tag="db").update(max_hold_seconds=60)
    holder = task_run(api, running_flow_run(api), "query", ["db"])
    start(api, holder)
    assert sweep_stale_slots() == 0  # still RUNNING, within its hold time
    stored = ConcurrencyLimit.objects.get(tag="db")
    since = timezone.now() - timedelta(seconds=61)
    stored.slot_acquired = {holder: since.isoformat()}
    stored.save()
    assert sweep_stale_slots() == 1
    assert slots() == []


def test_the_sweep_frees_only_stale_slots(api: ApiClient) -> None:
    api.post("/concurrency_limits/", {"tag": "db", "concurrency_limit": 5})
    alive = task_run(api, running_flow_run(api), "alive", ["db"])
    start(api, alive)
    finished_flow = running_flow_run(api)
    leaked = task_run(api, finished_flow, "leaked", ["db"])
    start(api, leaked)
    FlowRun.objects.filter(pk=finished_flow).update(state_type="FAILED")
    vanished = str(uuid.uuid4())  # a holder that no longer exists
    reset = api.post("/concurrency_limits/tag/db/reset", {"slot_override": [alive, leaked, vanished]})
    assert reset.status_code == 200
    assert sweep_stale_slots() == 2
    assert slots() == [alive]


def test_a_slot_is_kept_while_its_holder_runs(api: ApiClient, limit: dict[str, Any]) -> None:
    holder = task_run(api, running_flow_run(api), "query", ["db"])
    start(api, holder)
    assert sweep_stale_slots() == 0
    assert propose(api, holder, "COMPLETED") == "ACCEPT"
    assert slots() == []


@pytest.mark.django_db
def test_orion_limits_says_when_there_is_no_limit() -> None:
    out = io.StringIO()
    call_command("orion_limits", stdout=out)
    assert out.getvalue() == "No tag concurrency limits are set.\n"


def test_orion_limits_shows_who_holds_what_since_when(api: ApiClient, limit: dict[str, Any]) -> None:
    flow_run = running_flow_run(api)
    holder = task_run(api, flow_run, "query", ["db"])
    start(api, holder)
    ConcurrencyLimit.objects.filter(tag="db").update(max_hold_seconds=3600)
    out = io.StringIO()
    call_command("orion_limits", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "db: 1/1 slots in use, max hold 3600 s"
    name = api.get(f"/task_runs/{holder}").json()["name"]
    assert lines[1].split()[:6] == [holder, name, "RUNNING", "flow", "run", "RUNNING"]
    assert "since 20" in lines[1] and "STALE" not in lines[1]

    FlowRun.objects.filter(pk=flow_run).update(state_type="CRASHED")
    out = io.StringIO()
    call_command("orion_limits", stdout=out)
    assert out.getvalue().splitlines()[1].endswith("STALE: flow run is CRASHED")
    out = io.StringIO()
    call_command("orion_limits", "--free-stale", stdout=out)
    assert out.getvalue().splitlines()[:2] == ["Freed 1 stale slot(s).", "db: 0/1 slots in use, max hold 3600 s"]


def test_admin_shows_the_holders_and_frees_stale_slots(api: ApiClient, limit: dict[str, Any]) -> None:
    flow_run = running_flow_run(api)
    holder = task_run(api, flow_run, "query", ["db"])
    start(api, holder)
    browser = Client()
    browser.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests"))
    page = browser.get(f"/admin/runs_app/concurrencylimit/{limit['id']}/change/").content.decode()
    assert f"/admin/runs_app/taskrun/{holder}/change/" in page
    assert "RUNNING · flow run RUNNING · since 20" in page
    FlowRun.objects.filter(pk=flow_run).update(state_type="CRASHED")
    browser.post(
        "/admin/runs_app/concurrencylimit/",
        {"action": "free_stale_slots", "_selected_action": [limit["id"]]},
    )
    assert slots() == []
