"""Who may do what in which workspace: roles, memberships of users, API keys (stored
only as a hash of the secret)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from orion_project.models import TenantModel, Workspace


class Role(models.TextChoices):
    """What a key or a user may do in one workspace; each role includes the ones
    before it (``ROLE_RANK``). Which requests each role may send is defined once, in
    ``access_app.roles``."""

    VIEWER = "viewer", "viewer: reads"
    RUNNER = "runner", "runner: what flow processes, agents and workers send"
    DEVELOPER = "developer", "developer: every Orion route of the workspace"
    ADMIN = "admin", "admin: also the workspace's keys, members and /api/admin"


ROLE_RANK = {Role.VIEWER: 0, Role.RUNNER: 1, Role.DEVELOPER: 2, Role.ADMIN: 3}


class Membership(models.Model):
    """A user's role in one workspace: what they may do in its signed-in dashboard and
    which of its records they see and change in the admin (superusers see all)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        ordering = ["workspace", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="uq_membership_user_workspace")]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace}: {self.role}"


class Scope(models.TextChoices):
    """The three scopes keys had before roles (``--scopes`` of ``orion_api_key create``
    still takes them): each names the role it became in the workspace ``default``."""

    READ = "read", "read"
    WRITE = "write", "write"
    ADMIN = "admin", "admin"


SCOPE_ROLES = {Scope.READ: Role.VIEWER, Scope.WRITE: Role.DEVELOPER, Scope.ADMIN: Role.ADMIN}


class ApiKey(TenantModel):
    """A named key of one workspace that a client sends as ``Authorization: Bearer <key>``.

    Only the SHA-256 of the key is stored (``key_hash``); keys are 256-bit random
    strings, so a fast hash is enough and one indexed lookup finds the key. ``prefix``
    is the key's first characters, shown in listings to tell keys apart. The key acts
    with ``role`` in its workspace and nowhere else.
    """

    name = models.TextField()
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.DEVELOPER)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    # Written at most once a minute per key (see access_app.selectors), never per request.
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workspace", "name"]
        verbose_name = "API key"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="uq_api_key_workspace_name"),
            # The unique index is also the per-request lookup by hash.
            models.UniqueConstraint(fields=["key_hash"], name="uq_api_key_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.role})"


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "success"
    FAILURE = "failure", "failure"


class AuditEvent(models.Model):
    """One write (through the API, the admin or a management command) or one refused
    attempt at the API's door: when, who, in which workspace, what, on which object, and
    how it ended. Never a secret or a request body.

    The workspace is kept by slug as well, so the trail of a deleted workspace (its
    deletion included) stays readable after the row it pointed at is gone.
    """

    class Channel(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "admin"
        COMMAND = "command", "command"
        DOOR = "door", "refused at the door"

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The key's name, the user's username, "anonymous", or the command's name.
    actor = models.TextField(blank=True, default="")
    # No constraint in the database, as a workspace's records (orion_project.models.TenantModel):
    # one row is written per API write, and it must not lock the workspace's row.
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    workspace_slug = models.CharField(max_length=40, blank=True, default="")
    # "POST /flows/{id}/set_state", "admin change flows_app.flow", "orion_workspace delete".
    action = models.TextField()
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=255, blank=True, default="")
    outcome = models.CharField(max_length=8, choices=AuditOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The client address (API and door), and why a door refusal happened.
    source = models.CharField(max_length=64, blank=True, default="")
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit event"
        indexes = [
            # The admin changelist and orion_audit: one workspace's events, newest first.
            models.Index(fields=["workspace_slug", "-at"], name="ix_audit_workspace_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor or '-'} {self.action} ({self.outcome})"
