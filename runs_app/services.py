"""Writes to runs, logs and concurrency limits. Each function is one transaction.

``flow_run_set_state`` and ``task_run_set_state`` are the one door into orchestration:
every route, admin action, management command and background service that changes a
run's state calls them (run creation writes the initial state here too), so the policy
rules and the bookkeeping always run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from flows_app.models import Deployment, Flow
from orion_project.exceptions import INTEGRITY_CONFLICT_DETAIL, ConflictError, ObjectNotFoundError
from runs_app.history_rollup import RUN_FIELDS as HISTORY_RUN_FIELDS
from runs_app.history_rollup import flow_runs_history_forget
from runs_app.models import ConcurrencyLimit, FlowRun, Log, TaskRun, TaskRunStateCache
from runs_app.names import random_run_name
from runs_app.orchestration.context import OrchestrationResult, ProposedState, SetStateStatus
from runs_app.orchestration.engine import lock_run, orchestrate
from runs_app.states import StateName, StateType

ApiVersion = tuple[int, int, int] | None


def _require_references(*references: tuple[type[Any], uuid.UUID | None]) -> None:
    """Refuse (409, like a foreign-key violation) a run that points at missing rows.

    Checked up front rather than left to the deferred foreign keys, so the answer does
    not depend on when the transaction commits.
    """
    for model, pk in references:
        if pk is not None and not model.objects.filter(pk=pk).exists():
            raise ConflictError(INTEGRITY_CONFLICT_DETAIL)


def flow_run_set_state(
    *,
    flow_run_id: uuid.UUID,
    state: ProposedState,
    force: bool = False,
    api_version: ApiVersion = None,
) -> OrchestrationResult:
    """Propose ``state`` for a flow run; the flow policy decides (one transaction, the run
    row locked, so concurrent proposals are decided one after the other)."""
    with transaction.atomic():
        run = lock_run(FlowRun, flow_run_id)
        if run is None:
            raise ObjectNotFoundError(f"Flow run with id {flow_run_id} not found")
        return orchestrate(run, state, force=force, api_version=api_version)


def task_run_set_state(
    *,
    task_run_id: uuid.UUID,
    state: ProposedState,
    force: bool = False,
    api_version: ApiVersion = None,
) -> OrchestrationResult:
    """Propose ``state`` for a task run; the task policy decides (as for flow runs)."""
    with transaction.atomic():
        run = lock_run(TaskRun, task_run_id)
        if run is None:
            raise ObjectNotFoundError(f"Task run with id {task_run_id} not found")
        return orchestrate(run, state, force=force, api_version=api_version)


def _pending_now() -> ProposedState:
    """The state a new run starts in when none is given."""
    return ProposedState.make(type=StateType.PENDING, timestamp=timezone.now())


def flow_run_create(
    *, data: Mapping[str, Any], api_version: ApiVersion = None, initial_state: ProposedState | None = None
) -> tuple[FlowRun, bool]:
    """Create a flow run with its initial state (PENDING if none) written with force.

    With an ``idempotency_key``, an existing run of the same flow with that key is
    returned unchanged instead (``created`` is then ``False``), also when two requests
    race: the unique constraint decides and the loser reads the winner's run.
    """
    fields = dict(data)
    key = fields.get("idempotency_key")
    if key is not None:
        existing = _existing_flow_run(fields["flow_id"], key)
        if existing is not None:
            return existing, False
    _require_references(
        (Flow, fields["flow_id"]),
        (Deployment, fields.get("deployment_id")),
        (TaskRun, fields.get("parent_task_run_id")),
    )
    fields["name"] = fields.get("name") or random_run_name()
    try:
        with transaction.atomic():
            run = FlowRun.objects.create(**fields)
            orchestrate(run, initial_state or _pending_now(), force=True, api_version=api_version)
    except IntegrityError:
        existing = _existing_flow_run(fields["flow_id"], key) if key is not None else None
        if existing is None:
            raise
        return existing, False
    return run, True


def _existing_flow_run(flow_id: uuid.UUID, key: str) -> FlowRun | None:
    return FlowRun.objects.select_related("state").filter(flow_id=flow_id, idempotency_key=key).first()


def flow_run_update(*, flow_run_id: uuid.UUID, changes: Mapping[str, Any]) -> bool:
    """Write the given writable fields of a flow run; ``False`` if it does not exist."""
    return FlowRun.objects.filter(pk=flow_run_id).update(**changes, updated=timezone.now()) > 0


def flow_run_delete(*, flow_run_id: uuid.UUID) -> bool:
    """Delete a flow run with its states and task runs."""
    return flow_runs_delete(runs=FlowRun.objects.filter(pk=flow_run_id)) > 0


def flow_runs_delete(*, runs: QuerySet[FlowRun]) -> int:
    """Delete these flow runs (states and task runs go with them) and take them out of
    the history rollup, in one transaction; the number of flow runs deleted.

    The rows are locked first, so no state write can change a run between reading what
    it added to the rollup and deleting it.
    """
    with transaction.atomic():
        values = list(runs.order_by().select_for_update().values("id", *HISTORY_RUN_FIELDS))
        if not values:
            return 0
        flow_runs_history_forget(values)
        FlowRun.objects.filter(pk__in=[row["id"] for row in values]).delete()
    return len(values)


def flow_run_resume(*, flow_run_id: uuid.UUID, api_version: ApiVersion = None) -> OrchestrationResult:
    """Resume a PAUSED flow run: RUNNING, or SCHEDULED "Resuming" if the pause reschedules."""
    run = FlowRun.objects.select_related("state").filter(pk=flow_run_id).first()
    if run is None:
        raise ObjectNotFoundError(f"Flow run with id {flow_run_id} not found")
    if run.state is None or run.state.type != StateType.PAUSED:
        return OrchestrationResult(
            status=SetStateStatus.ABORT,
            state=None,
            reason="Cannot resume a flow run that is not paused.",
        )
    now = timezone.now()
    if (run.state.state_details or {}).get("pause_reschedule"):
        proposal = ProposedState.make(type=StateType.SCHEDULED, name=StateName.RESUMING, timestamp=now)
    else:
        proposal = ProposedState.make(type=StateType.RUNNING, timestamp=now)
    return flow_run_set_state(flow_run_id=flow_run_id, state=proposal, api_version=api_version)


def task_run_create(
    *, data: Mapping[str, Any], api_version: ApiVersion = None, initial_state: ProposedState | None = None
) -> tuple[TaskRun, bool]:
    """Create a task run (initial state, PENDING if none, forced), or return the existing
    one with the same ``(flow_run_id, task_key, dynamic_key)`` (or client-chosen ``id``)."""
    fields = dict(data)
    if fields.get("id") is None:
        fields.pop("id", None)
    existing = _existing_task_run(fields)
    if existing is not None:
        return existing, False
    _require_references((FlowRun, fields.get("flow_run_id")))
    fields["name"] = fields.get("name") or random_run_name()
    try:
        with transaction.atomic():
            run = TaskRun.objects.create(**fields)
            orchestrate(run, initial_state or _pending_now(), force=True, api_version=api_version)
    except IntegrityError:
        existing = _existing_task_run(fields)
        if existing is None:
            raise
        return existing, False
    return run, True


def _existing_task_run(fields: Mapping[str, Any]) -> TaskRun | None:
    runs = TaskRun.objects.select_related("state")
    if fields.get("id") is not None:
        found = runs.filter(pk=fields["id"]).first()
        if found is not None:
            return found
    if fields.get("flow_run_id") is None:
        return None
    return runs.filter(
        flow_run_id=fields["flow_run_id"], task_key=fields["task_key"], dynamic_key=fields["dynamic_key"]
    ).first()


def task_run_update(*, task_run_id: uuid.UUID, changes: Mapping[str, Any]) -> bool:
    """Write the given writable fields of a task run; ``False`` if it does not exist."""
    return TaskRun.objects.filter(pk=task_run_id).update(**changes, updated=timezone.now()) > 0


def task_run_delete(*, task_run_id: uuid.UUID) -> bool:
    """Delete a task run with its states."""
    with transaction.atomic():
        deleted, _ = TaskRun.objects.filter(pk=task_run_id).delete()
    return deleted > 0


def logs_create(*, logs: Iterable[Mapping[str, Any]]) -> int:
    """Insert a batch of log lines with one statement per 500 rows."""
    rows = [Log(**log) for log in logs]
    with transaction.atomic():
        Log.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def concurrency_limit_upsert(*, tag: str, concurrency_limit: int) -> ConcurrencyLimit:
    """Create the limit for ``tag``, or change the limit value of the existing one."""
    with transaction.atomic():
        limit, created = ConcurrencyLimit.objects.select_for_update().get_or_create(
            tag=tag, defaults={"concurrency_limit": concurrency_limit}
        )
        if not created and limit.concurrency_limit != concurrency_limit:
            limit.concurrency_limit = concurrency_limit
            limit.save(update_fields=["concurrency_limit", "updated"])
    return limit


def concurrency_limit_delete(*, limit_id: uuid.UUID | None = None, tag: str | None = None) -> bool:
    """Delete a limit by id or by tag; ``False`` if there is none."""
    limits = (
        ConcurrencyLimit.objects.filter(pk=limit_id)
        if limit_id is not None
        else ConcurrencyLimit.objects.filter(tag=tag)
    )
    with transaction.atomic():
        deleted, _ = limits.delete()
    return deleted > 0


def concurrency_limit_reset(*, tag: str, slot_override: list[str] | None = None) -> bool:
    """Empty (or replace) the active slots of a tag's limit; ``False`` if there is none."""
    with transaction.atomic():
        limit = ConcurrencyLimit.objects.select_for_update().filter(tag=tag).first()
        if limit is None:
            return False
        limit.active_slots = [str(slot) for slot in slot_override or []]
        limit.save(update_fields=["active_slots", "updated"])
    return True


def runs_reset() -> None:
    """Delete the rows of this app that no flow owns (flow runs go with their flows)."""
    for model in (TaskRunStateCache, Log, ConcurrencyLimit):
        model.objects.all().delete()
