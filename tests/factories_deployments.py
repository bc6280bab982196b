"""factory_boy factories for deployments with work queues and schedule rows."""

from __future__ import annotations

import factory

from flows_app.models import DeploymentSchedule, WorkQueue
from flows_app.work_services import default_agent_pool
from tests.factories import DeploymentFactory

HOURLY = {"interval": 3600.0, "anchor_date": "2026-01-01T00:00:00+00:00", "timezone": "UTC"}


class WorkQueueFactory(factory.django.DjangoModelFactory[WorkQueue]):
    """A queue of ``default-agent-pool`` (where 2.7 deployments put theirs)."""

    class Meta:
        model = WorkQueue

    name = factory.Sequence(lambda n: f"queue-{n}")
    work_pool = factory.LazyFunction(default_agent_pool)
    priority = factory.Sequence(lambda n: n + 10)


class DeploymentScheduleFactory(factory.django.DjangoModelFactory[DeploymentSchedule]):
    class Meta:
        model = DeploymentSchedule

    deployment = factory.SubFactory(DeploymentFactory)
    schedule = factory.LazyFunction(lambda: dict(HOURLY))
    active = True


class ScheduledDeploymentFactory(DeploymentFactory):
    """A deployment as ``POST /deployments/`` leaves it: a queue, a schedule, and the
    schedule's row (the one place the scheduler reads)."""

    class Meta:
        skip_postgeneration_save = True

    schedule = factory.LazyFunction(lambda: dict(HOURLY))
    work_queue = factory.SubFactory(WorkQueueFactory)
    work_queue_name = factory.SelfAttribute("work_queue.name")
    schedule_row = factory.RelatedFactory(
        DeploymentScheduleFactory, factory_related_name="deployment", schedule=factory.SelfAttribute("..schedule")
    )
