"""API keys, stored only as a hash of the secret."""

from __future__ import annotations

from django.db import models

from orion_project.models import OrionModel


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
