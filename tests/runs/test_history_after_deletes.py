"""History from the rollup stays the history of the runs after deletes through every door.

Runs of three flows (one with a deployment) move between states over several hours
through the API; then runs are deleted by each door in turn, and after each one
``POST /flow_runs/history`` answered from the rollup is compared with the same request
answered by reading the runs (a filter the rollup has no column for sends it there).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from runs_app.models import FlowRun, FlowRunHistoryBucket
from tests.helpers import ApiClient
from tests.runs.rollup_helpers import assert_rollup_equals_scan

TABLE = FlowRunHistoryBucket._meta.db_table
PLANS = [
    ("SCHEDULED",),
    ("SCHEDULED", "PENDING"),
    ("SCHEDULED", "PENDING", "RUNNING"),
    ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED"),
    ("SCHEDULED", "RUNNING", "FAILED"),
    ("SCHEDULED", "CANCELLED"),
]


def seed(api: ApiClient) -> dict[str, Any]:
    """42 runs of three flows, expected every 97 minutes from 60 hours ago (the last ones
    in the future), each flow's taken through each of ``PLANS`` in turn; flow ``c``'s go
    to a deployment."""
    flows = {name: api.post("/flows/", {"name": f"{name}-{uuid.uuid4().hex[:6]}"}).json() for name in "abc"}
    deployment = api.post("/deployments/", {"name": "nightly", "flow_id": flows["c"]["id"]}).json()
    start = timezone.now() - dt.timedelta(hours=60)
    runs: list[dict[str, Any]] = []
    for index in range(42):
        flow = flows["abc"[index % 3]]
        scheduled = start + dt.timedelta(minutes=97 * index)
        body: dict[str, Any] = {
            "flow_id": flow["id"],
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": scheduled.isoformat()}},
        }
        if flow is flows["c"]:
            body["deployment_id"] = deployment["id"]
        run = api.post("/flow_runs/", body).json()
        for state_type in PLANS[(index // 3) % len(PLANS)][1:]:
            forced = {"state": {"type": state_type}, "force": True}  # future runs would be told to WAIT
            assert api.post(f"/flow_runs/{run['id']}/set_state", forced).json()["status"] == "ACCEPT"
        runs.append(run)
    return {"flows": flows, "deployment": deployment, "runs": runs}


def ids_in(state_type: str, flow: dict[str, Any]) -> list[str]:
    return [
        str(pk) for pk in FlowRun.objects.filter(flow_id=flow["id"], state_type=state_type).values_list("pk", flat=True)
    ]


@pytest.mark.django_db
def test_history_from_the_rollup_equals_the_scan_after_each_delete_door(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    data = seed(api)
    flows = data["flows"]
    a, b, c = (flows[name] for name in "abc")
    flow_ids = [a["id"], c["id"]]
    admin = Client()
    admin.force_login(User.objects.create_superuser("hist", "hist@example.com", "pw-for-tests"))
    counted = [assert_rollup_equals_scan(api, monkeypatch, flow_ids)]

    doors = [
        lambda: api.delete(f"/flow_runs/{ids_in('COMPLETED', a)[0]}"),
        lambda: api.post("/flow_runs/bulk_delete", {"flow_runs": {"id": {"any_": ids_in("PENDING", a)}}}),
        lambda: call_command("orion_runs", "delete", "--state", "CANCELLED", "--flow", a["name"], stdout=io.StringIO()),
        lambda: call_command(
            "orion_prune", "--older-than", "0d", "--state", "FAILED", stdout=io.StringIO(), stderr=io.StringIO()
        ),
        lambda: admin.post(f"/admin/runs_app/flowrun/{ids_in('RUNNING', a)[0]}/delete/", {"post": "yes"}),
        lambda: admin.post(
            "/admin/runs_app/flowrun/",
            {"action": "delete_runs", "_selected_action": ids_in("SCHEDULED", c)[:2], "confirm": "yes"},
        ),
        lambda: api.delete(f"/deployments/{data['deployment']['id']}"),  # its SCHEDULED runs go
        lambda: api.post(
            "/flow_runs/prune", {"older_than": "0d", "state_types": ["COMPLETED"], "flow_names": [b["name"]]}
        ),
        lambda: api.delete(f"/flows/{b['id']}"),
    ]
    for door in doors:
        door()
        counted.append(assert_rollup_equals_scan(api, monkeypatch, flow_ids))
    # Every door deleted something the history counted.
    assert all(later < earlier for earlier, later in itertools.pairwise(counted)), counted
    # No rollup row is left for the deleted flow, nor an emptied one.
    assert not FlowRunHistoryBucket.objects.filter(flow_id=b["id"]).exists()

    settings.DEBUG = True  # the database clear answers 403 otherwise (no admin key here)
    assert api.post("/admin/database/clear", {"confirm": True}).status_code == 204
    assert not FlowRunHistoryBucket.objects.exists()
    assert assert_rollup_equals_scan(api, monkeypatch, flow_ids) == 0
