"""Writes to runs, logs and concurrency limits. Each function is one transaction.

``flow_run_set_state`` and ``task_run_set_state`` are the one door into orchestration:
every route, admin action, management command and background service that changes a
run's state calls them (run creation writes the initial state here too), so the policy
rules and the bookkeeping always run.

``flow_runs_delete`` and ``task_runs_delete`` (from ``runs_app.services.purge``) are the one door out:
every deletion of runs goes through them.

Every function acts in one workspace (``workspace_id``): a run of another workspace is
not found, exactly as an unknown id, references in a body (flow, deployment, work queue,
parent task run, flow run) resolve only there, and every row written carries it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from flows_app.models import Deployment, Flow
from orion_project.db import write_transaction
from orion_project.exceptions import INTEGRITY_CONFLICT_DETAIL, ConflictError, ObjectNotFoundError
from orion_project.prepared import by_id, row_write
from runs_app.events import NAMED_FIELDS
from runs_app.models import (
    Artifact,
    ArtifactCollection,
    ConcurrencyLimit,
    FlowRun,
    FlowRunHistoryBucket,
    Log,
    TaskRun,
    TaskRunStateCache,
)
from runs_app.names import random_run_name
from runs_app.orchestration.context import OrchestrationResult, ProposedState, SetStateStatus
from runs_app.orchestration.engine import lock_run, orchestrate
from runs_app.services.purge import flow_runs_delete as flow_runs_delete  # re-exported: the one delete path
from runs_app.services.purge import task_runs_delete as task_runs_delete
from runs_app.services.run_input import run_input_rejection, run_input_store
from runs_app.states import StateName, StateType

ApiVersion = tuple[int, int, int] | None
RunModel = TypeVar("RunModel", FlowRun, TaskRun)


def _require_references(
    *references: tuple[type[Any], uuid.UUID | None], workspace_id: int, only: tuple[str, ...] = ("id",)
) -> list[Any]:
    """Refuse (409, like a foreign-key violation) a run that points at rows missing from
    its workspace (a row of another workspace is missing, whatever the foreign key says).

    Checked up front rather than left to the deferred foreign keys, so the answer does
    not depend on when the transaction commits. The row is read by its compiled by-id
    read (``orion_project.prepared.by_id``), which finds it by primary key and compares
    its workspace: a ``workspace_id`` condition would make PostgreSQL plan the lookup
    against every index that leads with it, on every run created. The rows read (their
    ``only`` fields; ``None`` where no id was given) are returned.
    """
    rows: list[Any] = []
    for model, pk in references:
        row = None
        if pk is not None:
            row = by_id(model, only=only).get(pk, workspace_id=workspace_id)
            if row is None:
                raise ConflictError(INTEGRITY_CONFLICT_DETAIL)
        rows.append(row)
    return rows


def flow_run_set_state(
    *,
    flow_run_id: uuid.UUID,
    workspace_id: int,
    state: ProposedState,
    force: bool = False,
    api_version: ApiVersion = None,
) -> OrchestrationResult:
    """Propose ``state`` for a flow run of the workspace; the flow policy decides."""
    return _set_state(FlowRun, flow_run_id, workspace_id, "Flow run", state, force, api_version)


def task_run_set_state(
    *,
    task_run_id: uuid.UUID,
    workspace_id: int,
    state: ProposedState,
    force: bool = False,
    api_version: ApiVersion = None,
) -> OrchestrationResult:
    """Propose ``state`` for a task run of the workspace; the task policy decides."""
    return _set_state(TaskRun, task_run_id, workspace_id, "Task run", state, force, api_version)


def _set_state(
    model: type[FlowRun] | type[TaskRun],
    run_id: uuid.UUID,
    workspace_id: int,
    kind: str,
    state: ProposedState,
    force: bool,
    api_version: ApiVersion,
) -> OrchestrationResult:
    """One transaction with the run row locked, so concurrent proposals for one run are
    decided one after the other and each sees the state the other wrote; its statements
    planned once for all runs (``write_transaction``)."""
    with write_transaction():
        run = lock_run(model, run_id, workspace_id=workspace_id)
        if run is None:
            raise ObjectNotFoundError(f"{kind} with id {run_id} not found")
        return orchestrate(run, state, force=force, api_version=api_version)


def _pending_now() -> ProposedState:
    """The state a new run starts in when none is given."""
    return ProposedState.make(type=StateType.PENDING, timestamp=timezone.now())


def flow_run_create(
    *,
    workspace_id: int,
    data: Mapping[str, Any],
    api_version: ApiVersion = None,
    initial_state: ProposedState | None = None,
) -> tuple[FlowRun, bool]:
    """Create a flow run in the workspace with its initial state (PENDING if none)
    written with force.

    With an ``idempotency_key``, an existing run of the same flow with that key is
    returned unchanged instead (``created`` is then ``False``), also when two requests
    race: the unique constraint decides and the loser reads the winner's run. Flows are
    of one workspace, so keys are per workspace too.

    The flow, deployment and parent task run must be of the workspace (a client names
    them). A work queue is never named by a client here: the deployment services pass
    the one they resolved in the workspace, so it costs no look-up.
    """
    fields = {**data, "workspace_id": workspace_id}
    key = fields.get("idempotency_key")
    if key is not None:
        existing = _existing_flow_run(fields["flow_id"], key, workspace_id)
        if existing is not None:
            return existing, False
    named = _require_references(
        (Flow, fields["flow_id"]),
        (Deployment, fields.get("deployment_id")),
        (TaskRun, fields.get("parent_task_run_id")),
        workspace_id=workspace_id,
        only=NAMED_FIELDS,
    )
    fields["name"] = fields.get("name") or random_run_name()
    try:
        with write_transaction():
            # One round of inserts: the engine writes the state row, then inserts the run
            # with its state columns already set (the foreign keys between the two are
            # checked at commit). The returned run is complete; nothing is read back.
            run = FlowRun(**fields)
            # Left on the run for its first state's event, which names them.
            for name, row in zip(("flow", "deployment", "parent_task_run"), named, strict=True):
                if row is not None:
                    setattr(run, name, row)
            orchestrate(run, initial_state or _pending_now(), force=True, api_version=api_version)
    except IntegrityError:
        existing = _existing_flow_run(fields["flow_id"], key, workspace_id) if key is not None else None
        if existing is None:
            raise
        return existing, False
    return run, True


def _existing_flow_run(flow_id: uuid.UUID, key: str, workspace_id: int) -> FlowRun | None:
    runs = FlowRun.objects.for_response()
    return next(iter(runs.filter(workspace_id=workspace_id, flow_id=flow_id, idempotency_key=key)), None)


def _the_run(model: type[RunModel], run_id: uuid.UUID, workspace_id: int) -> QuerySet[RunModel]:
    """The workspace's run with this id (none for an id of another workspace)."""
    return model.objects.filter(pk=run_id, workspace_id=workspace_id)


def flow_run_update(*, flow_run_id: uuid.UUID, workspace_id: int, changes: Mapping[str, Any]) -> bool:
    """Write the given writable fields of a flow run; ``False`` if the workspace has none
    with this id."""
    return _the_run(FlowRun, flow_run_id, workspace_id).update(**changes, updated=timezone.now()) > 0


def flow_run_delete(*, flow_run_id: uuid.UUID, workspace_id: int) -> bool:
    """Delete a flow run with everything that points at it; ``False`` if the workspace
    has none with this id."""
    deleted = flow_runs_delete(runs=_the_run(FlowRun, flow_run_id, workspace_id), workspace_id=workspace_id)
    return deleted[FlowRun._meta.label] > 0


def flow_run_resume(
    *,
    flow_run_id: uuid.UUID,
    workspace_id: int,
    run_input: Mapping[str, Any] | None = None,
    api_version: ApiVersion = None,
) -> OrchestrationResult:
    """Resume a PAUSED flow run: RUNNING, or SCHEDULED "Resuming" if the pause reschedules.

    A run paused for input (2.20 ``pause_flow_run(wait_for_input=...)``) is resumed only
    with a ``run_input`` valid for the schema it stored; the input is then stored for it.
    """
    run = FlowRun.objects.select_related("state").filter(pk=flow_run_id, workspace_id=workspace_id).first()
    if run is None:
        raise ObjectNotFoundError(f"Flow run with id {flow_run_id} not found")
    if run.state is None or run.state.type != StateType.PAUSED:
        return OrchestrationResult(
            status=SetStateStatus.ABORT,
            state=None,
            reason="Cannot resume a flow run that is not paused.",
        )
    details = run.state.state_details or {}
    keyset = details.get("run_input_keyset")
    if keyset:
        run_input = run_input or {}
        reason = run_input_rejection(
            flow_run_id=flow_run_id, workspace_id=workspace_id, keyset=keyset, run_input=run_input
        )
        if reason is not None:
            return OrchestrationResult(status=SetStateStatus.REJECT, state=run.state, reason=reason)
    now = timezone.now()
    if details.get("pause_reschedule"):
        proposal = ProposedState.make(type=StateType.SCHEDULED, name=StateName.RESUMING, timestamp=now)
    else:
        proposal = ProposedState.make(type=StateType.RUNNING, timestamp=now)
    with transaction.atomic():
        result = flow_run_set_state(
            flow_run_id=flow_run_id, workspace_id=workspace_id, state=proposal, api_version=api_version
        )
        if keyset and run_input and result.status == SetStateStatus.ACCEPT:
            run_input_store(flow_run_id=flow_run_id, workspace_id=workspace_id, keyset=keyset, run_input=run_input)
    return result


def task_run_create(
    *,
    workspace_id: int,
    data: Mapping[str, Any],
    api_version: ApiVersion = None,
    initial_state: ProposedState | None = None,
) -> tuple[TaskRun, bool]:
    """Create a task run in the workspace (initial state, PENDING if none, forced), or
    return the workspace's existing one with the same ``(flow_run_id, task_key,
    dynamic_key)`` (or client-chosen ``id``).

    A new task run is the common case, so it is inserted straight away and the unique
    constraints find the existing one (no look-up before every insert).
    """
    fields = {**data, "workspace_id": workspace_id}
    if fields.get("id") is None:
        fields.pop("id", None)
    _require_references((FlowRun, fields.get("flow_run_id")), workspace_id=workspace_id)
    fields["name"] = fields.get("name") or random_run_name()
    try:
        with write_transaction():
            # One round of inserts, as in flow_run_create.
            run = TaskRun(**fields)
            orchestrate(run, initial_state or _pending_now(), force=True, api_version=api_version)
    except IntegrityError:
        existing = _existing_task_run(fields)
        if existing is None:
            raise
        return existing, False
    return run, True


def _existing_task_run(fields: Mapping[str, Any]) -> TaskRun | None:
    runs = TaskRun.objects.for_response().filter(workspace_id=fields["workspace_id"])
    if fields.get("id") is not None:
        found = runs.filter(pk=fields["id"]).first()
        if found is not None:
            return found
    if fields.get("flow_run_id") is None:
        return None
    return runs.filter(
        flow_run_id=fields["flow_run_id"], task_key=fields["task_key"], dynamic_key=fields["dynamic_key"]
    ).first()


def task_run_update(*, task_run_id: uuid.UUID, workspace_id: int, changes: Mapping[str, Any]) -> bool:
    """Write the given writable fields of a task run; ``False`` if the workspace has none
    with this id."""
    return _the_run(TaskRun, task_run_id, workspace_id).update(**changes, updated=timezone.now()) > 0


def task_run_delete(*, task_run_id: uuid.UUID, workspace_id: int) -> bool:
    """Delete a task run with its states, cache rows and logs; ``False`` if the workspace
    has none with this id."""
    deleted = task_runs_delete(runs=_the_run(TaskRun, task_run_id, workspace_id), workspace_id=workspace_id)
    return deleted[TaskRun._meta.label] > 0


LOG_BATCH_ROWS = 500


def logs_create(*, logs: Iterable[Mapping[str, Any]], workspace_id: int) -> int:
    """Insert a batch of log lines of the workspace with one statement per 500 rows (a
    batch of one statement needs no transaction around it: the statement is atomic).

    The run ids a line names are not checked (as the reference; logs may arrive before
    their run): a line naming another workspace's run is stored in this one and is only
    ever read here."""
    rows = [Log(**log, workspace_id=workspace_id) for log in logs]
    write = row_write(Log)
    # SQLite bounds the parameters of one statement.
    size = max(1, min(LOG_BATCH_ROWS, connection.ops.bulk_batch_size(write.fields, rows)))
    with transaction.atomic() if len(rows) > size else contextlib.nullcontext():
        for start in range(0, len(rows), size):
            write.insert_rows(rows[start : start + size], connection.alias)
    return len(rows)


def runs_reset() -> None:
    """Delete every run of every workspace (through the one delete path) and the other
    rows of this app."""
    for workspace_id in FlowRun.objects.values_list("workspace_id", flat=True).distinct().order_by():
        flow_runs_delete(runs=FlowRun.objects.all(), workspace_id=workspace_id)
    for workspace_id in TaskRun.objects.values_list("workspace_id", flat=True).distinct().order_by():
        task_runs_delete(runs=TaskRun.objects.all(), workspace_id=workspace_id)
    for model in (TaskRunStateCache, Log, ConcurrencyLimit, Artifact, ArtifactCollection, FlowRunHistoryBucket):
        model.objects.all().delete()
