"""factory_boy factories for the stored resources."""

from __future__ import annotations

import factory

from flows_app.models import Deployment, Flow
from runs_app.models import FlowRun, TaskRun


class FlowFactory(factory.django.DjangoModelFactory[Flow]):
    class Meta:
        model = Flow

    name = factory.Sequence(lambda n: f"flow-{n}")
    tags = factory.LazyFunction(list)


class DeploymentFactory(factory.django.DjangoModelFactory[Deployment]):
    class Meta:
        model = Deployment

    name = factory.Sequence(lambda n: f"deployment-{n}")
    flow = factory.SubFactory(FlowFactory)
    tags = factory.LazyFunction(list)


class FlowRunFactory(factory.django.DjangoModelFactory[FlowRun]):
    class Meta:
        model = FlowRun

    name = factory.Sequence(lambda n: f"flow-run-{n}")
    flow = factory.SubFactory(FlowFactory)
    tags = factory.LazyFunction(list)


class TaskRunFactory(factory.django.DjangoModelFactory[TaskRun]):
    class Meta:
        model = TaskRun

    name = factory.Sequence(lambda n: f"task-run-{n}")
    flow_run = factory.SubFactory(FlowRunFactory)
    task_key = factory.Sequence(lambda n: f"task-{n}")
    dynamic_key = "0"
    tags = factory.LazyFunction(list)
