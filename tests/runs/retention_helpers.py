"""Runs and checks shared by the retention and delete-door tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.apps import apps
from django.db import models

from runs_app.models import FlowRun
from runs_app.services.purge import SOFT_LINKS
from tests.helpers import ApiClient, make_flow_run, make_task_run

NOW = dt.datetime.now(dt.UTC)
LONG_AGO = NOW - dt.timedelta(days=40)


def move(api: ApiClient, run_id: str, state_type: str, kind: str = "flow_runs", **state: Any) -> str:
    """Propose a state the way a client does; the verdict."""
    response = api.post(f"/{kind}/{run_id}/set_state", {"state": {"type": state_type, **state}})
    assert response.status_code in (200, 201), response.content
    return response.json()["status"]  # type: ignore[no-any-return]


def finished_run(api: ApiClient, final: str = "COMPLETED", *, ended: dt.datetime = LONG_AGO) -> dict[str, Any]:
    """A flow run that ran a cached task, logged, and ended at ``ended``."""
    run = make_flow_run(api, "PENDING")
    assert move(api, run["id"], "RUNNING") == "ACCEPT"
    task = make_task_run(api, "PENDING", flow_run=run, cache_key=f"key-{uuid.uuid4().hex}")
    assert move(api, task["id"], "RUNNING", kind="task_runs") == "ACCEPT"
    cache = {"cache_key": task["cache_key"]}
    assert move(api, task["id"], "COMPLETED", kind="task_runs", state_details=cache) == "ACCEPT"
    logs = [
        {"name": "prefect", "level": 20, "message": "hello", "timestamp": NOW.isoformat(), "flow_run_id": run["id"]},
        {
            "name": "prefect",
            "level": 20,
            "message": "task",
            "timestamp": NOW.isoformat(),
            "flow_run_id": run["id"],
            "task_run_id": task["id"],
        },
    ]
    assert api.post("/logs/", logs).status_code == 201
    assert move(api, run["id"], final) == "ACCEPT"
    FlowRun.objects.filter(pk=run["id"]).update(end_time=ended)
    return run


def dangling_rows() -> dict[str, int]:
    """Rows of any table whose foreign key (or soft run link) names a row that is gone.

    Walks every model of every app, so a table added later that points at a run (2.20
    artifacts) is checked too.
    """
    dangling: dict[str, int] = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey) and field.related_model is not None:
                target: Any = field.related_model
                rows = model._base_manager.exclude(**{f"{field.attname}__isnull": True}).exclude(
                    **{f"{field.attname}__in": target._base_manager.values("pk")}
                )
                if rows.exists():
                    dangling[f"{model._meta.label}.{field.name}"] = rows.count()
    for model, column, run_model in SOFT_LINKS:
        rows = model._base_manager.exclude(**{f"{column}__isnull": True}).exclude(
            **{f"{column}__in": run_model._base_manager.values("pk")}
        )
        if rows.exists():
            dangling[f"{model._meta.label}.{column}"] = rows.count()
    return dangling
