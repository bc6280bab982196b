"""The scheduler service: keep every active deployment's upcoming runs created.

Safe to run in several copies against one database. Each pass walks the schedulable
deployments in id order, one batch at a time:

1. read the batch and, in one grouped query, how many upcoming auto-scheduled runs each
   has; a deployment that already has ``min_runs`` of them, reaching at least
   ``min_scheduled_time`` ahead, is skipped (the reference scheduler's rule), so a pass
   over a fully scheduled system costs two queries per batch;
2. claim the others, in one short transaction per batch, with ``SELECT ... FOR NO KEY
   UPDATE SKIP LOCKED`` on PostgreSQL: a deployment another scheduler is working on is
   skipped, not waited for. ``NO KEY`` because the runs created from a deployment take
   a ``KEY SHARE`` lock on it (their foreign key); a plain ``FOR UPDATE`` would make
   ``POST /deployments/{id}/create_flow_run`` wait for the whole batch;
3. create the missing runs, each in its deployment's workspace. Their idempotency keys
   (``scheduled <deployment id> <time>``), unique per flow in the database, are the
   final guarantee that overlapping passes never duplicate a run.

The service serves every workspace in one pass, but never acts across two: a
deployment's runs, schedules and queue are all of the deployment's workspace, and the
counts of step 1 are per deployment.

SQLite has no row locks; its IMMEDIATE transactions run the batches one after another.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef, QuerySet
from django.utils import timezone

from flows_app.models import Deployment, DeploymentSchedule
from flows_app.services.deployments import deployment_schedule_runs
from runs_app.models import FlowRun
from runs_app.states import StateType

logger = logging.getLogger("orion.scheduler")


def schedulable_deployments() -> QuerySet[Deployment]:
    """Deployments whose schedule is on, that are not paused and have an active schedule."""
    active_schedule = DeploymentSchedule.objects.filter(deployment=OuterRef("pk"), active=True)
    return Deployment.objects.filter(Exists(active_schedule), is_schedule_active=True, paused=False).order_by("id")


def deployments_needing_runs(
    deployment_ids: list[uuid.UUID], *, now: dt.datetime, min_runs: int, min_scheduled_time: dt.timedelta
) -> list[uuid.UUID]:
    """Those of ``deployment_ids`` with fewer than ``min_runs`` upcoming auto-scheduled runs,
    or whose last one is sooner than ``now + min_scheduled_time`` (one grouped query)."""
    upcoming = {
        row["deployment_id"]: row
        for row in FlowRun.objects.filter(
            deployment_id__in=deployment_ids,
            state_type=StateType.SCHEDULED,
            auto_scheduled=True,
            next_scheduled_start_time__gte=now,
        )
        .order_by()
        .values("deployment_id")
        .annotate(count=Count("id"), last=Max("next_scheduled_start_time"))
    }
    horizon = now + min_scheduled_time
    return [
        deployment_id
        for deployment_id in deployment_ids
        if deployment_id not in upcoming
        or upcoming[deployment_id]["count"] < min_runs
        or upcoming[deployment_id]["last"] < horizon
    ]


def _claim(deployment_ids: list[uuid.UUID]) -> list[Deployment]:
    """Lock these deployments for the current transaction, skipping ones locked elsewhere.

    The schedulable condition is checked again under the lock: the deployment may have
    been paused or deleted since the batch was read.
    """
    claimed: Any = schedulable_deployments().filter(pk__in=deployment_ids)
    if connection.features.has_select_for_update_skip_locked:
        claimed = claimed.select_for_update(skip_locked=True, no_key=connection.features.has_select_for_no_key_update)
    return list(claimed)


def schedule_deployments(*, batch_size: int | None = None, now: dt.datetime | None = None) -> int:
    """One pass over every schedulable deployment; returns how many runs were created."""
    size = batch_size or settings.ORION_SCHEDULER_BATCH_SIZE
    min_runs = settings.ORION_SCHEDULER_MIN_RUNS
    min_scheduled_time = dt.timedelta(seconds=settings.ORION_SCHEDULER_MIN_SCHEDULED_SECONDS)
    created = 0
    last_id: uuid.UUID | None = None
    while True:
        batch = schedulable_deployments()
        if last_id is not None:
            batch = batch.filter(pk__gt=last_id)
        ids = list(batch.values_list("pk", flat=True)[:size])
        if not ids:
            break
        last_id = ids[-1]
        start = now or timezone.now()
        needy = deployments_needing_runs(ids, now=start, min_runs=min_runs, min_scheduled_time=min_scheduled_time)
        if needy:
            with transaction.atomic():
                for deployment in _claim(needy):
                    runs = deployment_schedule_runs(
                        workspace_id=deployment.workspace_id, deployment=deployment, start_time=start
                    )
                    created += len(runs)
        if len(ids) < size:
            break
    if created:
        logger.info("Scheduled %d flow run(s)", created)
    return created
