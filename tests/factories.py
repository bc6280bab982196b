"""factory_boy factories for the stored resources.

Deployment factories store schedules normalised, as the API stores them
(``parse_schedule(...).to_json()``): an interval schedule without an ``anchor_date`` would
otherwise be anchored at "now" each time it is read, and give different dates on every
scheduler pass.
"""

from __future__ import annotations

from typing import Any

import factory

from flows_app.models import Deployment, DeploymentSchedule, Flow, WorkQueue
from flows_app.schedules import parse_schedule
from flows_app.services.work import default_agent_pool
from orion_project.models import DEFAULT_WORKSPACE_ID
from runs_app.models import FlowRun, TaskRun
from runs_app.rollup.writes import flow_runs_history_add, run_values


class FlowFactory(factory.django.DjangoModelFactory[Flow]):
    class Meta:
        model = Flow

    workspace_id = DEFAULT_WORKSPACE_ID

    name = factory.Sequence(lambda n: f"flow-{n}")
    tags = factory.LazyFunction(list)


class DeploymentFactory(factory.django.DjangoModelFactory[Deployment]):
    class Meta:
        model = Deployment

    workspace_id = DEFAULT_WORKSPACE_ID

    name = factory.Sequence(lambda n: f"deployment-{n}")
    flow = factory.SubFactory(FlowFactory)
    tags = factory.LazyFunction(list)


class FlowRunFactory(factory.django.DjangoModelFactory[FlowRun]):
    """A flow run written as a bulk load writes one: state columns set directly, and its
    share added to the history rollup (which counts and history read)."""

    class Meta:
        model = FlowRun

    workspace_id = DEFAULT_WORKSPACE_ID

    name = factory.Sequence(lambda n: f"flow-run-{n}")
    flow = factory.SubFactory(FlowFactory)
    tags = factory.LazyFunction(list)

    @classmethod
    def _create(cls, model_class: type[FlowRun], *args: Any, **kwargs: Any) -> FlowRun:
        run = super()._create(model_class, *args, **kwargs)
        flow_runs_history_add([run_values(run)])
        return run


class TaskRunFactory(factory.django.DjangoModelFactory[TaskRun]):
    class Meta:
        model = TaskRun

    workspace_id = DEFAULT_WORKSPACE_ID

    name = factory.Sequence(lambda n: f"task-run-{n}")
    flow_run = factory.SubFactory(FlowRunFactory)
    task_key = factory.Sequence(lambda n: f"task-{n}")
    dynamic_key = "0"
    tags = factory.LazyFunction(list)


HOURLY = {"interval": 3600.0, "anchor_date": "2026-01-01T00:00:00+00:00", "timezone": "UTC"}


def normalized(schedule: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if schedule is None else parse_schedule(schedule).to_json()


class WorkQueueFactory(factory.django.DjangoModelFactory[WorkQueue]):
    """A queue of ``default-agent-pool`` (where 2.7 deployments put theirs)."""

    class Meta:
        model = WorkQueue

    workspace_id = DEFAULT_WORKSPACE_ID

    name = factory.Sequence(lambda n: f"queue-{n}")
    work_pool = factory.LazyFunction(lambda: default_agent_pool(workspace_id=DEFAULT_WORKSPACE_ID))
    priority = factory.Sequence(lambda n: n + 10)


class DeploymentScheduleFactory(factory.django.DjangoModelFactory[DeploymentSchedule]):
    class Meta:
        model = DeploymentSchedule

    workspace_id = DEFAULT_WORKSPACE_ID

    deployment = factory.SubFactory(DeploymentFactory)
    schedule = factory.LazyFunction(lambda: dict(HOURLY))
    active = True

    @classmethod
    def _create(cls, model_class: type[DeploymentSchedule], *args: Any, **kwargs: Any) -> DeploymentSchedule:
        kwargs["schedule"] = normalized(kwargs["schedule"])
        return super()._create(model_class, *args, **kwargs)


class ScheduledDeploymentFactory(DeploymentFactory):
    """A deployment as ``POST /deployments/`` leaves it: a queue, a schedule, and the
    schedule's row (the one place the scheduler reads)."""

    class Meta:
        skip_postgeneration_save = True

    schedule = factory.LazyFunction(lambda: dict(HOURLY))
    work_queue = factory.SubFactory(WorkQueueFactory)
    work_queue_name = factory.SelfAttribute("work_queue.name")

    @classmethod
    def _create(cls, model_class: type[Deployment], *args: Any, **kwargs: Any) -> Deployment:
        kwargs["schedule"] = normalized(kwargs.get("schedule"))
        return super()._create(model_class, *args, **kwargs)

    @factory.post_generation
    def schedule_row(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and self.schedule is not None:
            DeploymentSchedule.objects.create(deployment=self, schedule=self.schedule, workspace_id=self.workspace_id)
