"""Who may do what in which workspace: roles, memberships of users, API keys (stored
only as a hash of the secret)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orion_project.models import OrionModel, Workspace


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
    """What a key may do; each scope includes the ones before it."""

    READ = "read", "read: GET and the filter/count/history routes"
    WRITE = "write", "write: also run flows (every /api route but /api/admin)"
    ADMIN = "admin", "admin: also /api/admin/*"


SCOPE_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}


class ApiKey(OrionModel):
    """A named key a client sends as ``Authorization: Bearer <key>``.

    Only the SHA-256 of the key is stored (``key_hash``); keys are 256-bit random
    strings, so a fast hash is enough and one indexed lookup finds the key. ``prefix``
    is the key's first characters, shown in listings to tell keys apart.
    """

    name = models.TextField()
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.WRITE)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    # Written at most once a minute per key (see access_app.selectors), never per request.
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"
        constraints = [
            models.UniqueConstraint(fields=["name"], name="uq_api_key_name"),
            # The unique index is also the per-request lookup by hash.
            models.UniqueConstraint(fields=["key_hash"], name="uq_api_key_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"
