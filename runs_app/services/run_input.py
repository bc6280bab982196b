"""Writes of flow-run input (2.20 ``/flow_runs/{id}/input``, and the input a paused run is resumed with).

An input belongs to its run's workspace; a run of another workspace is not found."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import jsonschema
from django.db import IntegrityError, transaction

from orion_project.exceptions import ConflictError, ObjectNotFoundError
from runs_app.models import FlowRun, FlowRunInput

FLOW_RUN_INPUT_EXISTS = "A flow run input with this key already exists."


def flow_run_input_create(
    *, flow_run_id: uuid.UUID, key: str, value: str, sender: str | None = None, workspace_id: int
) -> FlowRunInput:
    """Store a value for a flow run of the workspace under ``key``; a key is written once (409)."""
    if not FlowRun.objects.filter(pk=flow_run_id, workspace_id=workspace_id).exists():
        raise ObjectNotFoundError("Flow run not found")
    try:
        with transaction.atomic():
            return FlowRunInput.objects.create(
                flow_run_id=flow_run_id, key=key, value=value, sender=sender, workspace_id=workspace_id
            )
    except IntegrityError:
        raise ConflictError(FLOW_RUN_INPUT_EXISTS) from None


def flow_run_input_delete(*, flow_run_id: uuid.UUID, key: str, workspace_id: int) -> bool:
    """Delete the input of a flow run of the workspace by key; ``False`` if there is none."""
    with transaction.atomic():
        deleted, _ = FlowRunInput.objects.filter(workspace_id=workspace_id, flow_run_id=flow_run_id, key=key).delete()
    return deleted > 0


def run_input_rejection(
    *, flow_run_id: uuid.UUID, keyset: Mapping[str, Any], run_input: Any, workspace_id: int
) -> str | None:
    """Why ``run_input`` cannot resume a run paused for input (``None`` when it can).

    The paused run stored the JSON schema of the input it waits for under
    ``keyset["schema"]``; the input must validate against it.
    """
    stored = FlowRunInput.objects.filter(
        workspace_id=workspace_id, flow_run_id=flow_run_id, key=keyset.get("schema")
    ).first()
    if stored is None:
        return "Run input schema not found."
    try:
        schema = json.loads(stored.value)
    except ValueError:
        return "Run input schema is not valid JSON."
    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(run_input))
    except (jsonschema.exceptions.SchemaError, RecursionError, jsonschema.exceptions._WrappedReferencingError):
        return "Invalid schema: Unable to validate schema with circular references."
    return None if error is None else f"Reason: {error.message}"


def run_input_store(*, flow_run_id: uuid.UUID, keyset: Mapping[str, Any], run_input: Any, workspace_id: int) -> None:
    """Store the input a run (of the workspace) was resumed with under
    ``keyset["response"]``, for the run to read."""
    FlowRunInput.objects.create(
        flow_run_id=flow_run_id,
        key=keyset["response"],
        value=json.dumps(run_input, separators=(",", ":")),
        workspace_id=workspace_id,
    )
