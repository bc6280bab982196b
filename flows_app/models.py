"""Flows and deployments: what can be run, and how it is configured to run."""

from __future__ import annotations

from django.db import models

from orion_project.models import OrionModel


class Flow(OrionModel):
    """A named workflow. Names are unique; ``POST /flows/`` is get-or-create on the name.

    Deleting a flow deletes its flow runs and deployments (database cascade).
    """

    name = models.TextField(help_text="Unique name of the flow.")
    tags = models.JSONField(default=list, blank=True, help_text="A list of tag strings.")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="uq_flow_name")]
        indexes = [
            # Sort orders of POST /flows/filter (NAME_* is served by the unique index).
            models.Index(fields=["-created"], name="ix_flow_created_desc"),
            models.Index(fields=["-updated"], name="ix_flow_updated_desc"),
        ]

    def __str__(self) -> str:
        return self.name


class Deployment(OrionModel):
    """A flow packaged to run on infrastructure, optionally on a schedule.

    Unique per ``(flow, name)``; ``POST /deployments/`` upserts on that pair.
    """

    name = models.TextField()
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="deployments")
    version = models.TextField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
    schedule = models.JSONField(null=True, blank=True, help_text="Interval, cron or rrule.")
    is_schedule_active = models.BooleanField(default=True)
    paused = models.BooleanField(default=False)
    infra_overrides = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    work_queue_name = models.TextField(null=True, blank=True)
    parameter_openapi_schema = models.JSONField(null=True, blank=True)
    path = models.TextField(null=True, blank=True)
    entrypoint = models.TextField(null=True, blank=True)
    manifest_path = models.TextField(null=True, blank=True)
    storage_document_id = models.UUIDField(null=True, blank=True)
    infrastructure_document_id = models.UUIDField(null=True, blank=True)
    created_by = models.JSONField(null=True, blank=True)
    updated_by = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "name"], name="uq_deployment_flow_name")
        ]
        indexes = [
            models.Index(fields=["name"], name="ix_deployment_name"),
            models.Index(fields=["-created"], name="ix_deployment_created_desc"),
            models.Index(fields=["-updated"], name="ix_deployment_updated_desc"),
            models.Index(fields=["work_queue_name"], name="ix_deployment_work_queue_name"),
        ]

    def __str__(self) -> str:
        return self.name
