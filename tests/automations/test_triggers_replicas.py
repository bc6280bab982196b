"""Two ``orion_services`` replicas evaluate one event log: every firing happens once, also
when one of them is killed in the middle of its work and another takes its place.

The replicas are real processes on the test database (SQLite or PostgreSQL, as the suite
runs), evaluating as often as they can in small batches so that their passes interleave
with each other and with the writer."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest
from django.db import connection, transaction

from automations_app.models import ActionRun
from events_app.services.record import NewEvent, record_events
from orion_project.models import DEFAULT_WORKSPACE_ID
from tests.automations.trigger_helpers import automation, event_trigger, triggering_event_ids
from tests.helpers import MANAGE, database_url, kill_process_group

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAILED = "prefect.flow-run.Failed"


def _replica(tmp_path: os.PathLike[str]) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        ORION_DATA_DIR=str(tmp_path),
        ORION_TRIGGERS_INTERVAL_MS="10",
        ORION_TRIGGERS_BATCH_SIZE="3",
        ORION_TRIGGERS_PROACTIVE_INTERVAL_SECONDS="1",
    )
    return subprocess.Popen(
        [*MANAGE, "orion_services", "--only", "triggers,proactive_triggers"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_for_actions(count: int, seconds: float = 90) -> int:
    deadline = time.monotonic() + seconds
    while (found := ActionRun.objects.count()) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_two_replicas_one_killed_midway_fire_each_event_exactly_once(tmp_path: os.PathLike[str]) -> None:
    auto = automation(event_trigger(expect=[FAILED]))
    replicas = [_replica(tmp_path), _replica(tmp_path)]
    sent: list[str] = []
    try:
        for index in range(120):
            event_id = uuid.uuid4()
            name = FAILED if index % 2 else "prefect.flow-run.Running"
            with transaction.atomic():
                record_events(
                    [NewEvent(name, {"prefect.resource.id": f"r.{index}"}, id=event_id)],
                    workspace_id=DEFAULT_WORKSPACE_ID,
                )
            if name == FAILED:
                sent.append(str(event_id))
            if index == 60:
                kill_process_group(replicas[0])  # wherever it was in its pass
                replicas[0] = _replica(tmp_path)
            time.sleep(0.01)
        assert _wait_for_actions(len(sent)) == len(sent)
        time.sleep(1)  # a double firing would show up now
    finally:
        for replica in replicas:
            kill_process_group(replica)
    assert sorted(str(fired) for fired in triggering_event_ids(auto)) == sorted(sent)
