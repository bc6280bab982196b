"""Two ``manage.py orion_services`` replicas on one database share the due actions:
every action runs exactly once, whichever replica takes it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from automations_app.models import ActionRun
from tests.automations.actions_helpers import action_events, action_run, deployment
from tests.helpers import MANAGE, ApiClient, database_url, kill_process_group

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_two_service_replicas_run_each_action_once(tmp_path: Path) -> None:
    api = ApiClient(Client())
    target = deployment(api)
    runs = [
        action_run(
            {"type": "run-deployment", "source": "selected", "deployment_id": target["id"]}
            if index % 2
            else {"type": "do-nothing"},
            index=index,
        )
        for index in range(30)
    ]
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        ORION_DATA_DIR=str(tmp_path),
        ORION_ACTIONS_INTERVAL_SECONDS="1",
    )
    replicas = [
        subprocess.Popen(
            [*MANAGE, "orion_services"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while ActionRun.objects.filter(status=ActionRun.Status.PENDING).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for replica in replicas:
            kill_process_group(replica)
    assert list(ActionRun.objects.values_list("status", "attempts")) == [("done", 1)] * len(runs)
    assert api.post("/flow_runs/count", {}).json() == 15
    executed = [item.payload["invocation"] for item in action_events() if item.event.endswith(".executed")]
    assert sorted(executed) == sorted(str(run.id) for run in runs)
