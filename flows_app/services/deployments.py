"""Writes to deployments, and the run scheduling they drive. Each function is one transaction.

The scheduler service and the ``/deployments/{id}/schedule`` route share
:func:`deployment_schedule_runs`; a scheduled run's idempotency key
(``scheduled <deployment id> <time>``) makes creating it twice impossible, whichever
process tries.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flows_app import events
from flows_app.models import Deployment, DeploymentSchedule, Flow, WorkPool
from flows_app.schedules import parse_schedule, scheduled_times
from flows_app.services.work import DEFAULT_AGENT_POOL, work_queue_get_or_create
from orion_project.clock import add_clamped
from orion_project.exceptions import INTEGRITY_CONFLICT_DETAIL, ConflictError, ObjectNotFoundError
from runs_app.models import FlowRun
from runs_app.orchestration.context import ProposedState
from runs_app.services.runs import flow_run_create, flow_runs_delete
from runs_app.states import StateName, StateType

AUTO_SCHEDULED_TAG = "auto-scheduled"
# Fields of DeploymentCreate an upsert overwrites, with the default an omitted one takes.
UPSERT_DEFAULTS: dict[str, Any] = {
    "version": None,
    "description": None,
    "schedule": None,
    "is_schedule_active": True,
    "paused": False,
    "infra_overrides": {},
    "parameters": {},
    "tags": [],
    "work_queue_name": None,
    "parameter_openapi_schema": None,
    "path": None,
    "entrypoint": None,
    "manifest_path": None,
    "storage_document_id": None,
    "infrastructure_document_id": None,
    "enforce_parameter_schema": False,
    "pull_steps": None,
}


class WorkPoolNotFoundError(ObjectNotFoundError):
    """A deployment names a work pool that does not exist (the routes answer 404 ``detail``)."""


def _schedule_switch(fields: dict[str, Any]) -> None:
    """Keep ``is_schedule_active`` (2.7) and ``paused`` (2.20) opposite: they are one
    switch. The 2.20 server serves ``set_schedule_inactive`` and ``pause_deployment``
    with one handler, and each client line reads only its own flag. Of the flags in
    ``fields``, the schedule is on only if none of them turns it off."""
    if "is_schedule_active" not in fields and "paused" not in fields:
        return
    active = bool(fields.get("is_schedule_active", True)) and not fields.get("paused", False)
    fields["is_schedule_active"], fields["paused"] = active, not active


def _check_block_documents(fields: Mapping[str, Any], workspace_id: int) -> None:
    """Storage and infrastructure blocks must exist in the workspace (409, as a
    foreign-key violation; another workspace's block is unknown here)."""
    from blocks_app.models import BlockDocument

    for key in ("storage_document_id", "infrastructure_document_id"):
        if fields.get(key) is None:
            continue
        if not BlockDocument.objects.filter(workspace_id=workspace_id, pk=fields[key]).exists():
            raise ConflictError(INTEGRITY_CONFLICT_DETAIL)


def _place(fields: dict[str, Any], work_pool_name: str | None, workspace_id: int) -> None:
    """Link the deployment's work queue: the named queue (created in its pool if missing),
    or the pool's default queue; pools and queues are the workspace's."""
    pool = None
    if work_pool_name and work_pool_name != DEFAULT_AGENT_POOL:
        pool = WorkPool.objects.filter(workspace_id=workspace_id, name=work_pool_name).first()
        if pool is None:
            raise WorkPoolNotFoundError(f'Work pool "{work_pool_name}" not found.')
    queue_name = fields.get("work_queue_name")
    if queue_name:
        fields["work_queue"], _ = work_queue_get_or_create(workspace_id=workspace_id, name=queue_name, work_pool=pool)
    elif pool is not None and pool.default_queue is not None:
        fields["work_queue"] = pool.default_queue
        fields["work_queue_name"] = pool.default_queue.name
    else:
        fields["work_queue"] = None


def _set_schedules(
    deployment: Deployment, schedule: dict[str, Any] | None, schedules: list[dict[str, Any]] | None
) -> None:
    """Replace the deployment's schedule rows: the 2.20 list, or the 2.7 single schedule."""
    DeploymentSchedule.objects.filter(workspace_id=deployment.workspace_id, deployment=deployment).delete()
    rows = list(schedules or [])
    if not rows and schedule is not None:
        rows = [{"schedule": schedule, "active": True}]
    DeploymentSchedule.objects.bulk_create(_schedule_rows(deployment, rows))
    if deployment.schedule is None and rows:
        deployment.schedule = rows[0]["schedule"]
        deployment.save(update_fields=["schedule"])


def _require_workspace(deployment: Deployment, workspace_id: int) -> None:
    """A deployment handed in as an object must be of the workspace the call is for:
    anything it creates lands in ``workspace_id``, so a mismatch is refused as unknown."""
    if deployment.workspace_id != workspace_id:
        raise ObjectNotFoundError(f"Deployment {deployment.id} not found")


def _schedule_rows(deployment: Deployment, rows: Sequence[Mapping[str, Any]]) -> list[DeploymentSchedule]:
    """Schedule rows of ``deployment``, in its workspace."""
    return [DeploymentSchedule(workspace_id=deployment.workspace_id, deployment=deployment, **row) for row in rows]


def delete_auto_scheduled_runs(*, workspace_id: int, deployment_id: uuid.UUID) -> int:
    """Remove the scheduler's runs of a deployment that have not started (SCHEDULED)."""
    runs = FlowRun.objects.filter(
        workspace_id=workspace_id, deployment_id=deployment_id, auto_scheduled=True, state_type=StateType.SCHEDULED
    )
    return flow_runs_delete(runs=runs, workspace_id=workspace_id)[FlowRun._meta.label]


def deployment_schedules_add(
    *, workspace_id: int, deployment: Deployment, rows: Sequence[Mapping[str, Any]]
) -> list[DeploymentSchedule]:
    """Add schedules to a deployment (2.20) of the workspace; its not-yet-started
    auto-scheduled runs go, so the scheduler plans again from the new set."""
    _require_workspace(deployment, workspace_id)
    with transaction.atomic():
        created = DeploymentSchedule.objects.bulk_create(_schedule_rows(deployment, rows))
        delete_auto_scheduled_runs(workspace_id=workspace_id, deployment_id=deployment.id)
    return created


def deployment_schedule_update(
    *, workspace_id: int, deployment_id: uuid.UUID, schedule_id: uuid.UUID, changes: Mapping[str, Any]
) -> bool:
    """Change one schedule of a deployment; ``False`` when the deployment has no such schedule."""
    with transaction.atomic():
        rows = DeploymentSchedule.objects.filter(workspace_id=workspace_id, deployment_id=deployment_id, pk=schedule_id)
        if not rows.update(**changes, updated=timezone.now()):
            return False
        delete_auto_scheduled_runs(workspace_id=workspace_id, deployment_id=deployment_id)
    return True


def deployment_schedule_delete(*, workspace_id: int, deployment_id: uuid.UUID, schedule_id: uuid.UUID) -> bool:
    """Delete one schedule of a deployment; ``False`` when the deployment has no such schedule."""
    with transaction.atomic():
        rows = DeploymentSchedule.objects.filter(workspace_id=workspace_id, deployment_id=deployment_id, pk=schedule_id)
        deleted, _ = rows.delete()
        if not deleted:
            return False
        delete_auto_scheduled_runs(workspace_id=workspace_id, deployment_id=deployment_id)
    return True


def deployments_poll_scheduled_runs(
    *, workspace_id: int, deployment_ids: list[uuid.UUID], scheduled_before: dt.datetime | None, limit: int
) -> list[FlowRun]:
    """Due SCHEDULED runs of the given deployments of the workspace for a 2.20 runner,
    which counts as a poll: the deployments are stamped ``last_polled`` (their status
    reads READY)."""
    runs = FlowRun.objects.filter(
        workspace_id=workspace_id, deployment_id__in=deployment_ids, state_type=StateType.SCHEDULED
    )
    if scheduled_before is not None:
        runs = runs.filter(next_scheduled_start_time__lte=scheduled_before)
    picked = list(runs.for_response().order_by("next_scheduled_start_time", "id")[:limit])
    now = timezone.now()
    with transaction.atomic():
        Deployment.objects.filter(workspace_id=workspace_id, pk__in=deployment_ids).update(last_polled=now)
        events.deployments_polled(deployment_ids, workspace_id=workspace_id, now=now)
    return picked


def deployment_upsert(*, workspace_id: int, data: Mapping[str, Any]) -> tuple[Deployment, bool]:
    """Create the deployment ``(flow_id, name)`` or overwrite every field of the existing
    one (omitted fields revert to their defaults; id and created are kept), then drop its
    auto-scheduled runs that have not started.

    The flow, work pool, queue and blocks it names are the workspace's: another
    workspace's flow or block is refused exactly as an unknown one."""
    fields = dict(data)
    work_pool_name = fields.pop("work_pool_name", None)
    schedules = fields.pop("schedules", None)
    job_variables = fields.pop("job_variables", None)
    if job_variables is not None and not fields.get("infra_overrides"):
        fields["infra_overrides"] = job_variables
    if not Flow.objects.filter(workspace_id=workspace_id, pk=fields["flow_id"]).exists():
        raise ConflictError(INTEGRITY_CONFLICT_DETAIL)
    _check_block_documents(fields, workspace_id)
    fields.setdefault("is_schedule_active", UPSERT_DEFAULTS["is_schedule_active"])
    _schedule_switch(fields)
    with transaction.atomic():
        _place(fields, work_pool_name, workspace_id)
        same = Deployment.objects.select_for_update().filter(
            workspace_id=workspace_id, flow_id=fields["flow_id"], name=fields["name"]
        )
        existing = same.first()
        created = False
        if existing is None:
            try:
                with transaction.atomic():
                    deployment = Deployment.objects.create(workspace_id=workspace_id, **fields)
                created = True
            except IntegrityError:
                # Another request inserted the same (flow, name) between our read and our
                # insert (PostgreSQL; SQLite runs writers one at a time). This is still an
                # upsert, so overwrite the row it made.
                existing = same.first()
                if existing is None:
                    raise
        if existing is not None:
            for key, default in UPSERT_DEFAULTS.items():
                setattr(existing, key, fields.get(key, default))
            existing.work_queue = fields.get("work_queue")
            existing.save()
            deployment = existing
        _set_schedules(deployment, fields.get("schedule"), schedules)
        delete_auto_scheduled_runs(workspace_id=workspace_id, deployment_id=deployment.id)
    return deployment, created


def deployment_set_liveness_silence(*, workspace_id: int, deployment_id: uuid.UUID, seconds: int | None) -> bool:
    """Set how long a RUNNING run of the deployment may stay silent (``runs_app.background.liveness``).

    Not a Prefect field, so unlike :func:`deployment_update` it leaves the scheduled runs alone.
    """
    deployments = Deployment.objects.filter(workspace_id=workspace_id, pk=deployment_id)
    return deployments.update(liveness_silence_seconds=seconds, updated=timezone.now()) > 0


def deployment_update(*, workspace_id: int, deployment_id: uuid.UUID, changes: Mapping[str, Any]) -> bool:
    """Write the fields sent; ``False`` if the workspace has no such deployment."""
    fields = dict(changes)
    work_pool_name = fields.pop("work_pool_name", None)
    schedules = fields.pop("schedules", None)
    if "job_variables" in fields:
        job_variables = fields.pop("job_variables")
        if job_variables is not None:
            fields["infra_overrides"] = job_variables
    _check_block_documents(fields, workspace_id)
    _schedule_switch(fields)
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().filter(workspace_id=workspace_id, pk=deployment_id).first()
        if deployment is None:
            return False
        if "work_queue_name" in fields or work_pool_name:
            fields.setdefault("work_queue_name", deployment.work_queue_name)
            _place(fields, work_pool_name, workspace_id)
        for key, value in fields.items():
            setattr(deployment, key, value)
        deployment.save()
        if "schedule" in fields or schedules is not None:
            _set_schedules(deployment, fields.get("schedule", deployment.schedule), schedules)
        delete_auto_scheduled_runs(workspace_id=workspace_id, deployment_id=deployment.id)
    return True


def deployment_delete(*, workspace_id: int, deployment_id: uuid.UUID) -> bool:
    """Delete a deployment and its runs that are still SCHEDULED."""
    with transaction.atomic():
        scheduled = FlowRun.objects.filter(deployment_id=deployment_id, state_type=StateType.SCHEDULED)
        flow_runs_delete(runs=scheduled, workspace_id=workspace_id)
        deleted, _ = Deployment.objects.filter(workspace_id=workspace_id, pk=deployment_id).delete()
    return deleted > 0


def deployment_set_schedule_active(*, workspace_id: int, deployment_id: uuid.UUID, active: bool) -> bool:
    """Turn the deployment's schedule on or off (``paused`` follows); off also drops its
    pending auto-scheduled runs."""
    with transaction.atomic():
        updated = Deployment.objects.filter(workspace_id=workspace_id, pk=deployment_id).update(
            is_schedule_active=active, paused=not active, updated=timezone.now()
        )
        if updated and not active:
            delete_auto_scheduled_runs(workspace_id=workspace_id, deployment_id=deployment_id)
    return updated > 0


def deployment_set_paused(*, workspace_id: int, deployment_id: uuid.UUID, paused: bool) -> bool:
    """Pause or resume a deployment (2.20; ``is_schedule_active`` follows); pausing drops
    its pending auto-scheduled runs."""
    with transaction.atomic():
        updated = Deployment.objects.filter(workspace_id=workspace_id, pk=deployment_id).update(
            paused=paused, is_schedule_active=not paused, updated=timezone.now()
        )
        if updated and paused:
            delete_auto_scheduled_runs(workspace_id=workspace_id, deployment_id=deployment_id)
    return updated > 0


def deployment_create_flow_run(
    *,
    workspace_id: int,
    deployment: Deployment,
    data: Mapping[str, Any],
    initial_state: ProposedState | None = None,
    api_version: tuple[int, int, int] | None = None,
) -> tuple[FlowRun, bool]:
    """A run of the deployment, in the deployment's workspace: its parameters overlaid
    with the body's, tags united, its work queue and infrastructure copied; idempotent on
    ``idempotency_key``."""
    _require_workspace(deployment, workspace_id)
    fields = dict(data)
    fields.pop("enforce_parameter_schema", None)
    queue = deployment.work_queue
    queue_name = fields.pop("work_queue_name", None)
    if queue_name:
        pool = queue.work_pool if queue is not None else None
        queue, _ = work_queue_get_or_create(workspace_id=workspace_id, name=queue_name, work_pool=pool)
    run_fields: dict[str, Any] = {
        **fields,
        "flow_id": deployment.flow_id,
        "deployment_id": deployment.id,
        "parameters": {**(deployment.parameters or {}), **(fields.get("parameters") or {})},
        "tags": sorted(set(deployment.tags or []) | set(fields.get("tags") or [])),
        "infrastructure_document_id": fields.get("infrastructure_document_id") or deployment.infrastructure_document_id,
        "work_queue_name": queue.name if queue is not None else deployment.work_queue_name,
        "work_queue_id": queue.id if queue is not None else None,
        "deployment_version": deployment.version,
    }
    if fields.get("job_variables") is None:
        run_fields.pop("job_variables", None)
    return flow_run_create(
        workspace_id=workspace_id, data=run_fields, initial_state=initial_state, api_version=api_version
    )


def deployment_schedule_runs(
    *,
    workspace_id: int,
    deployment: Deployment,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    min_time: dt.timedelta | None = None,
    min_runs: int | None = None,
    max_runs: int | None = None,
) -> list[FlowRun]:
    """Create the next auto-scheduled runs of every active schedule of a deployment.

    Nothing happens for a deployment whose schedule is inactive or that is paused. Each run
    carries the idempotency key ``scheduled <deployment id> <time>``, so calling this
    again, or from another process at the same moment, never duplicates a run. The runs
    are the deployment's workspace's (``workspace_id``).
    """
    _require_workspace(deployment, workspace_id)
    if not deployment.is_schedule_active or deployment.paused:
        return []
    now = timezone.now()
    start = start_time or now
    end = end_time or add_clamped(start, dt.timedelta(seconds=settings.ORION_SCHEDULER_MAX_SCHEDULED_SECONDS))
    wanted: set[dt.datetime] = set()
    for row in DeploymentSchedule.objects.filter(workspace_id=workspace_id, deployment=deployment, active=True):
        wanted.update(
            scheduled_times(
                parse_schedule(row.schedule),
                start_time=start,
                end_time=end,
                min_time=min_time
                if min_time is not None
                else dt.timedelta(seconds=settings.ORION_SCHEDULER_MIN_SCHEDULED_SECONDS),
                min_runs=min_runs if min_runs is not None else settings.ORION_SCHEDULER_MIN_RUNS,
                max_runs=min(
                    max_runs if max_runs is not None else settings.ORION_SCHEDULER_MAX_RUNS,
                    row.max_scheduled_runs or 10**6,
                ),
            )
        )
    # One query finds the runs that already exist, so a pass over a deployment that is
    # already scheduled costs one query, not one per date. Runs created meanwhile by
    # another process are still caught by flow_run_create's idempotency check.
    keys = {when: scheduled_run_key(deployment.id, when) for when in wanted}
    existing = set(
        FlowRun.objects.filter(
            workspace_id=workspace_id, flow_id=deployment.flow_id, idempotency_key__in=list(keys.values())
        ).values_list("idempotency_key", flat=True)
    )
    created: list[FlowRun] = []
    for when in sorted(wanted):
        if keys[when] in existing:
            continue
        run, is_new = _schedule_one(deployment, when)
        if is_new:
            created.append(run)
    return created


def scheduled_run_key(deployment_id: uuid.UUID, when: dt.datetime) -> str:
    """The idempotency key of the auto-scheduled run of ``deployment_id`` at ``when``."""
    return f"scheduled {deployment_id} {when.astimezone(dt.UTC).isoformat()}"


def _schedule_one(deployment: Deployment, when: dt.datetime) -> tuple[FlowRun, bool]:
    state = ProposedState.make(
        type=StateType.SCHEDULED,
        name=StateName.SCHEDULED,
        timestamp=timezone.now(),
        message="Flow run scheduled",
        state_details={"scheduled_time": when.isoformat()},
    )
    return flow_run_create(
        workspace_id=deployment.workspace_id,
        data={
            "flow_id": deployment.flow_id,
            "deployment_id": deployment.id,
            "deployment_version": deployment.version,
            "parameters": dict(deployment.parameters or {}),
            "tags": [AUTO_SCHEDULED_TAG, *(deployment.tags or [])],
            "auto_scheduled": True,
            "idempotency_key": scheduled_run_key(deployment.id, when),
            "work_queue_name": deployment.work_queue_name,
            "work_queue_id": deployment.work_queue_id,
            "infrastructure_document_id": deployment.infrastructure_document_id,
        },
        initial_state=state,
    )
