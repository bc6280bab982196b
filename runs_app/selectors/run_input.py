"""Reads of flow-run input (2.20 ``/flow_runs/{id}/input``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db.models import QuerySet

from runs_app.models import (
    FlowRunInput,
)


def flow_run_input_get(*, flow_run_id: uuid.UUID, key: str, workspace_id: int) -> FlowRunInput | None:
    """The input of a flow run of the workspace stored under ``key``."""
    return FlowRunInput.objects.filter(workspace_id=workspace_id, flow_run_id=flow_run_id, key=key).first()


def flow_run_inputs_with_prefix(
    *, flow_run_id: uuid.UUID, prefix: str, limit: int, exclude_keys: Sequence[str] = (), workspace_id: int
) -> QuerySet[FlowRunInput]:
    """The inputs of a flow run of the workspace whose key starts with ``prefix``, oldest
    first (``receive_input``)."""
    rows = FlowRunInput.objects.filter(workspace_id=workspace_id, flow_run_id=flow_run_id, key__startswith=prefix)
    if exclude_keys:
        rows = rows.exclude(key__in=list(exclude_keys))
    return rows.order_by("created")[:limit]
