"""Automations, the state their triggers keep between events, and the actions waiting to
run.

An automation's ``trigger`` and action lists are stored as the API answers them (every
default filled in, every trigger given its ``id``); the evaluator and the action runner
read those documents, so there is one shape of a trigger, the API's.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from orion_project.models import TenantModel


class Automation(TenantModel):
    """A trigger and what to do when it fires (``actions``, ``actions_on_trigger``) and
    when it resolves (``actions_on_resolve``)."""

    name = models.TextField()
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    trigger = models.JSONField()
    actions = models.JSONField(default=list)
    actions_on_trigger = models.JSONField(default=list)
    actions_on_resolve = models.JSONField(default=list)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "name"], name="ix_automation_ws_name"),
            models.Index(fields=["workspace", "-created"], name="ix_automation_ws_created"),
        ]

    def __str__(self) -> str:
        return self.name


class AutomationRelatedResource(models.Model):
    """A resource an automation is related to, as the reference relates them: each
    deployment its run-deployment actions select (``prefect.deployment.<id>``), kept with
    every write of the actions, and the owner given at creation (``owned_by_resource``):
    what ``/automations/related-to/{id}`` and ``/automations/owned-by/{id}`` read."""

    workspace_id = models.IntegerField()
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="related_resources")
    resource_id = models.TextField()
    owned_by_resource = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["automation", "resource_id"], name="uq_automation_related_resource")
        ]
        indexes = [models.Index(fields=["workspace_id", "resource_id"], name="ix_autorel_ws_resource")]

    def __str__(self) -> str:
        return self.resource_id


class AutomationBucket(models.Model):
    """What one trigger of one automation has counted for one bucket (the values of its
    ``for_each`` labels) in the current window: from ``start`` to ``end``, ``count``
    events, the last one kept for templates and for ``follows``."""

    workspace_id = models.IntegerField()
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="buckets")
    trigger_id = models.UUIDField()
    bucketing_key = models.JSONField(default=list)
    # The key as text, for the unique constraint (JSON columns cannot be compared everywhere).
    bucket = models.TextField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    count = models.IntegerField(default=0)
    last_event = models.JSONField(null=True, blank=True)
    last_operation = models.TextField(blank=True, default="")
    triggered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["automation", "trigger_id", "bucket"], name="uq_automation_bucket")
        ]
        indexes = [models.Index(fields=["end"], name="ix_automation_bucket_end")]

    def __str__(self) -> str:
        return f"{self.trigger_id} {self.bucket}"


class CompositeTriggerChildFiring(models.Model):
    """A child trigger of a compound or sequence trigger that has fired and waits for its
    siblings (within the parent's ``within``)."""

    workspace_id = models.IntegerField()
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="child_firings")
    parent_trigger_id = models.UUIDField()
    child_trigger_id = models.UUIDField()
    child_firing_id = models.UUIDField()
    child_fired_at = models.DateTimeField()
    child_firing = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "parent_trigger_id", "child_trigger_id"], name="uq_composite_child_firing"
            )
        ]

    def __str__(self) -> str:
        return f"child {self.child_trigger_id} of {self.parent_trigger_id}"


class ActionRun(models.Model):
    """One action of one firing, waiting to run or run: an outbox written in the same
    transaction as the firing, so a crash between firing and acting loses nothing, and
    read with ``SKIP LOCKED`` so two service replicas never run the same action."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace_id = models.IntegerField()
    # Null once the automation is deleted; the action still runs as it was when it fired.
    automation = models.ForeignKey(
        Automation, on_delete=models.SET_NULL, null=True, blank=True, related_name="action_runs"
    )
    # The action document and its place in the automation's lists, as when it fired.
    action = models.JSONField()
    action_index = models.IntegerField()
    # "triggered" or "resolved": which list the action comes from.
    phase = models.CharField(max_length=16)
    # The firing: trigger, state, the triggering event(s), what templates may read.
    firing = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="ix_action_run_due")]

    def __str__(self) -> str:
        return f"{self.phase} action {self.action_index} ({self.status})"
