"""Reads of artifacts and their collections (2.20 ``/artifacts``).

Artifacts point at runs by plain id columns, so the run-side filters of a body
(``flow_runs``, ``task_runs``, ``flows``, ``deployments``) become ``EXISTS`` sub-queries
on the runs, as in the reference. Every read is of one workspace, the sub-queries too: an
artifact naming another workspace's run matches no run filter, as if the run were unknown.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from flows_app.filters import DEPLOYMENT_FILTER, FLOW_FILTER
from orion_project.filtering import Condition, FilterBody, ObjectFilter, combine
from runs_app.filters import ARTIFACT_COLLECTION_FILTER, ARTIFACT_FILTER, FLOW_RUN_FILTER, TASK_RUN_FILTER
from runs_app.models import (
    Artifact,
    ArtifactCollection,
    FlowRun,
    TaskRun,
)


def _run_conditions(
    *, flow_runs: FilterBody, task_runs: FilterBody, flows: FilterBody, deployments: FilterBody, workspace_id: int
) -> list[Condition]:
    conditions: list[Condition] = []
    if flow_runs is not None or flows is not None or deployments is not None:
        runs_condition = combine(
            [
                FLOW_RUN_FILTER.to_q(flow_runs),
                FLOW_FILTER.to_q(flows, "flow__"),
                None
                if deployments is None
                else combine(
                    [Q(deployment__isnull=False), DEPLOYMENT_FILTER.to_q(deployments, "deployment__")], "and_"
                ),
            ],
            "and_",
        )
        runs = FlowRun.objects.filter(pk=OuterRef("flow_run_id"), workspace_id=workspace_id)
        conditions.append(Q(Exists(runs if runs_condition is None else runs.filter(runs_condition))))
    if task_runs is not None:
        tasks = TASK_RUN_FILTER.apply(
            TaskRun.objects.filter(pk=OuterRef("task_run_id"), workspace_id=workspace_id), task_runs
        )
        conditions.append(Q(Exists(tasks)))
    return conditions


def _matching(queryset: QuerySet[Any], spec: ObjectFilter, filters: FilterBody, workspace_id: int) -> QuerySet[Any]:
    body = filters or {}
    queryset = queryset.filter(workspace_id=workspace_id)
    related = _run_conditions(
        flow_runs=body.get("flow_runs"),
        task_runs=body.get("task_runs"),
        flows=body.get("flows"),
        deployments=body.get("deployments"),
        workspace_id=workspace_id,
    )
    condition = combine([spec.to_q(body.get("artifacts")), *related], "and_")
    return queryset if condition is None else queryset.filter(condition)


def artifacts_matching(*, filters: FilterBody, workspace_id: int) -> QuerySet[Artifact]:
    """The workspace's artifacts matching every filter key of a validated body
    (``artifacts``, ``flow_runs``, ``task_runs``, ``flows``, ``deployments``):
    ``/artifacts/filter`` and ``/count``."""
    return _matching(Artifact.objects.all(), ARTIFACT_FILTER, filters, workspace_id)


def artifact_collections_matching(*, filters: FilterBody, workspace_id: int) -> QuerySet[ArtifactCollection]:
    """The workspace's latest artifacts per key matching a validated body
    (``/artifacts/latest/...``)."""
    return _matching(ArtifactCollection.objects.all(), ARTIFACT_COLLECTION_FILTER, filters, workspace_id)


def artifact_get(*, artifact_id: uuid.UUID, workspace_id: int) -> Artifact | None:
    return Artifact.objects.filter(pk=artifact_id, workspace_id=workspace_id).first()


def artifact_latest(*, key: str, workspace_id: int) -> ArtifactCollection | None:
    """The collection row of a key in the workspace (the reference answers it in the
    artifact's shape)."""
    return ArtifactCollection.objects.filter(workspace_id=workspace_id, key=key).first()
