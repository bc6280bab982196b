"""Flows and deployments: what can be run, and how it is configured to run."""

from __future__ import annotations

from django.db import models

from orion_project.models import TenantModel


class Flow(TenantModel):
    """A named workflow. Names are unique; ``POST /flows/`` is get-or-create on the name.

    Deleting a flow deletes its flow runs and deployments (database cascade).
    """

    name = models.TextField(help_text="Unique name of the flow.")
    tags = models.JSONField(default=list, blank=True, help_text="A list of tag strings.")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="uq_flow_workspace_name")]
        indexes = [
            # Sort orders of POST /flows/filter (NAME_* is served by the unique index).
            models.Index(fields=["workspace", "-created"], name="ix_flow_ws_created_desc"),
            models.Index(fields=["workspace", "-updated"], name="ix_flow_ws_updated_desc"),
        ]

    def __str__(self) -> str:
        return self.name


class Deployment(TenantModel):
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
    work_queue = models.ForeignKey(
        "WorkQueue", on_delete=models.SET_NULL, null=True, blank=True, related_name="deployments"
    )
    # 2.20 fields: ``job_variables`` is the 2.20 name of ``infra_overrides`` (one column).
    enforce_parameter_schema = models.BooleanField(default=False)
    pull_steps = models.JSONField(null=True, blank=True)
    last_polled = models.DateTimeField(null=True, blank=True)
    # The status the last ``prefect.deployment.*`` event announced (flows_app.events): what
    # tells a poll or the status service that the status changes. The API's ``status`` is
    # read from ``last_polled``.
    announced_status = models.CharField(max_length=16, default="NOT_READY")
    # Operations (not part of the Prefect API): how long a RUNNING run of this deployment
    # may go without a state, log or task-run change before the liveness service crashes
    # it; empty = ORION_STUCK_RUNNING_SECONDS, 0 = never.
    liveness_silence_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["flow", "name"], name="uq_deployment_flow_name")]
        indexes = [
            models.Index(fields=["workspace", "name"], name="ix_deployment_ws_name"),
            models.Index(fields=["workspace", "-created"], name="ix_deployment_ws_created_desc"),
            models.Index(fields=["workspace", "-updated"], name="ix_deployment_ws_updated_desc"),
            models.Index(fields=["workspace", "work_queue_name"], name="ix_deployment_ws_queue_name"),
        ]

    def __str__(self) -> str:
        return self.name


class DeploymentSchedule(TenantModel):
    """One of a deployment's schedules (2.20 ``schedules``; 2.7's single ``schedule`` is
    kept on the deployment and mirrored here so the scheduler reads one place)."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="schedules")
    schedule = models.JSONField(help_text="Interval, cron or rrule.")
    active = models.BooleanField(default=True)
    max_active_runs = models.PositiveIntegerField(null=True, blank=True)
    max_scheduled_runs = models.PositiveIntegerField(null=True, blank=True)
    catchup = models.BooleanField(default=False)

    class Meta:
        ordering = ["created"]
        indexes = [models.Index(fields=["deployment", "active"], name="ix_schedule_deployment")]

    def __str__(self) -> str:
        return f"{self.deployment_id}: {self.schedule}"


class WorkPool(TenantModel):
    """A pool of infrastructure that workers (and, in 2.7, agents) take runs from.

    The database is seeded with ``default-agent-pool`` and its queue ``default``;
    queues created through ``/work_queues/`` live there.
    """

    name = models.TextField()
    description = models.TextField(null=True, blank=True)
    type = models.TextField(default="prefect-agent")
    base_job_template = models.JSONField(default=dict, blank=True)
    is_paused = models.BooleanField(default=False)
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)
    default_queue = models.ForeignKey("WorkQueue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The status the last ``prefect.work-pool.*`` event announced, its id and when (the next
    # one ``follows`` it when close in time); see flows_app.events.
    announced_status = models.CharField(max_length=16, default="NOT_READY")
    last_status_event_id = models.UUIDField(null=True, blank=True)
    last_status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="uq_work_pool_workspace_name")]

    def __str__(self) -> str:
        return self.name


class WorkQueue(TenantModel):
    """A queue agents and workers poll for scheduled runs; unique by name within a pool."""

    name = models.TextField()
    description = models.TextField(default="", blank=True)
    is_paused = models.BooleanField(default=False)
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)
    priority = models.PositiveIntegerField(default=1)
    work_pool = models.ForeignKey(WorkPool, on_delete=models.CASCADE, related_name="queues")
    filter = models.JSONField(null=True, blank=True, help_text="Deprecated tag/deployment filter.")
    last_polled = models.DateTimeField(null=True, blank=True)
    # The status the last ``prefect.work-queue.*`` event announced (flows_app.events).
    announced_status = models.CharField(max_length=16, default="NOT_READY")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["work_pool", "name"], name="uq_work_queue_pool_name")]
        indexes = [models.Index(fields=["work_pool", "priority"], name="ix_work_queue_pool_priority")]

    def __str__(self) -> str:
        return self.name


class Worker(TenantModel):
    """A worker process of a pool, known from its heartbeats."""

    name = models.TextField()
    work_pool = models.ForeignKey(WorkPool, on_delete=models.CASCADE, related_name="workers")
    last_heartbeat_time = models.DateTimeField(null=True, blank=True)
    heartbeat_interval_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-last_heartbeat_time"]
        constraints = [models.UniqueConstraint(fields=["work_pool", "name"], name="uq_worker_pool_name")]

    def __str__(self) -> str:
        return self.name


class SavedSearch(TenantModel):
    """A named set of UI filters; ``PUT /saved_searches/`` upserts by name."""

    name = models.TextField()
    filters = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "saved searches"
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="uq_saved_search_workspace_name")]

    def __str__(self) -> str:
        return self.name


class FlowRunNotificationPolicy(TenantModel):
    """Send a message through a notification block when matching flow runs change state."""

    is_active = models.BooleanField(default=True)
    state_names = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    block_document_id = models.UUIDField()
    message_template = models.TextField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "flow run notification policies"

    def __str__(self) -> str:
        return f"{', '.join(self.state_names) or 'any state'} → {self.block_document_id}"
