"""A run's answer is rendered by hand (``flow_run_json``, ``task_run_json``) and documented
by its serializer (``FlowRunSerializer``, ``TaskRunSerializer``): the two list the same
fields in the same order, and the OpenAPI document shows those fields."""

from __future__ import annotations

import pytest

from runs_app.api.serializers import FlowRunSerializer, TaskRunSerializer
from tests.helpers import ApiClient, make_flow_run, make_task_run

pytestmark = pytest.mark.django_db


def test_the_rendered_runs_have_the_documented_fields(api: ApiClient) -> None:
    run = make_flow_run(api, "RUNNING")
    task = make_task_run(api, "PENDING", flow_run=run)
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    for path, serializer, component in (
        (f"/flow_runs/{run['id']}", FlowRunSerializer, "FlowRun"),
        (f"/task_runs/{task['id']}", TaskRunSerializer, "TaskRun"),
    ):
        rendered = list(api.get(path).json())
        assert rendered == list(serializer.Meta.fields), path
        assert list(schemas[component]["properties"]) == rendered, component
