"""``RowWrite``'s parameters are what Django's ``pre_save`` + ``get_db_prep_save`` give,
field by field, for the rows the engine and the log batch write (its shortcuts skip
those calls only where they would give the value back)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model

from orion_project.prepared import row_write
from runs_app.models import FlowRun, FlowRunState, Log, TaskRun, TaskRunState

NOW = dt.datetime(2026, 12, 7, 18, 0, 1, 250, tzinfo=dt.UTC)


def django_params(instance: Model, fields: Sequence[Any], add: bool) -> list[Any]:
    return [field.get_db_prep_save(field.pre_save(instance, add), connection) for field in fields]


def comparable(value: Any) -> Any:
    """psycopg's JSON wrapper compares by identity: its object and dumps stand for it."""
    return (type(value).__name__, value.obj, value.dumps) if hasattr(value, "dumps") else value


def rows() -> list[Model]:
    run_id, flow_id = uuid.uuid4(), uuid.uuid4()
    return [
        FlowRun(id=run_id, workspace_id=1, flow_id=flow_id, name="r", tags=["a"], parameters={"x": [1, None]}),
        FlowRun(
            id=run_id,
            workspace_id=2,
            flow_id=str(flow_id),  # text where a UUID is stored: Django's own conversion
            name="",
            state_type="RUNNING",
            state_timestamp=NOW,
            start_time=NOW,
            total_run_time=dt.timedelta(seconds=1.5),
            idempotency_key="k",
            context={},
            empirical_policy=None,
        ),
        FlowRunState(id=uuid.uuid4(), workspace_id=1, flow_run_id=run_id, type="PENDING", name="Pending"),
        FlowRunState(id=uuid.uuid4(), workspace_id=1, flow_run_id=run_id, type="FAILED", message=None, data={"a": 1}),
        TaskRun(id=uuid.uuid4(), workspace_id=1, flow_run_id=run_id, task_key="t", dynamic_key="0", cache_key=None),
        TaskRunState(id=uuid.uuid4(), workspace_id=1, task_run_id=uuid.uuid4(), type="COMPLETED", timestamp=NOW),
        Log(workspace_id=1, name="n", level=20, message="m", timestamp=NOW, flow_run_id=run_id, task_run_id=None),
        Log(workspace_id=1, name="n", level=40, message="", timestamp=NOW, flow_run_id=None, task_run_id=uuid.uuid4()),
    ]


@pytest.mark.parametrize("instance", rows(), ids=lambda row: type(row).__name__)
def test_parameters_are_djangos(instance: Model) -> None:
    write = row_write(type(instance))
    automatic = [index for index, field in enumerate(write.fields) if getattr(field, "auto_now", False)]
    for add, fields, params in (
        (True, write.fields, write.insert_params(instance, connection.alias)),
        (False, write.changed, write.update_params(instance, connection.alias)[:-1]),
    ):
        expected = django_params(instance, fields, add)
        assert len(params) == len(expected)
        for index, (got, wanted) in enumerate(zip(params, expected, strict=True)):
            if fields[index].attname == "updated":  # auto_now: the clock at each call
                assert type(got) is type(wanted)
                continue
            assert comparable(got) == comparable(wanted), fields[index].attname
            assert type(got) is type(wanted), fields[index].attname
    assert automatic  # the clock column was there to skip
