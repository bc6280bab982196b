"""The scheduler service: keep every active deployment's upcoming runs created.

Safe to run in several copies against one database. On PostgreSQL each batch of
deployments is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent
schedulers share the work instead of repeating it; whatever still overlaps is stopped by
the runs' idempotency keys (``scheduled <deployment id> <time>``), which the database
keeps unique.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction

from flows_app.deployment_services import deployment_schedule_runs
from flows_app.models import Deployment

logger = logging.getLogger("orion.scheduler")


def schedulable_deployments():  # type: ignore[no-untyped-def]
    """Deployments whose schedule is on, that are not paused and have an active schedule."""
    return (
        Deployment.objects.filter(is_schedule_active=True, paused=False, schedules__active=True)
        .distinct()
        .order_by("id")
    )


def schedule_deployments(*, batch_size: int | None = None) -> int:
    """One pass over every schedulable deployment; returns how many runs were created."""
    size = batch_size or settings.ORION_SCHEDULER_BATCH_SIZE
    created = 0
    last_id = None
    while True:
        with transaction.atomic():
            batch = Deployment.objects.filter(pk__in=schedulable_deployments().values("pk")).order_by("id")
            if last_id is not None:
                batch = batch.filter(pk__gt=last_id)
            if connection.vendor == "postgresql":
                batch = batch.select_for_update(skip_locked=True)
            deployments = list(batch[:size])
            for deployment in deployments:
                created += len(deployment_schedule_runs(deployment=deployment))
        if len(deployments) < size:
            break
        last_id = deployments[-1].pk
    if created:
        logger.info("Scheduled %d flow run(s)", created)
    return created
