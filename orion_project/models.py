"""The abstract base every stored resource shares."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class OrionModel(models.Model):
    """UUID primary key plus ``created`` / ``updated`` timestamps (UTC).

    ``updated`` changes on every write; code that writes with ``QuerySet.update()`` sets
    it explicitly because ``auto_now`` only runs on ``save()``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        abstract = True


class ServiceHeartbeat(models.Model):
    """When a background service last finished a pass, and how long that pass took.

    Written by the services loop after every pass (one upsert), read by ``/api/metrics``:
    the loops and the API are separate, stateless processes, so the database is the one
    place they share.
    """

    name = models.CharField(max_length=64, primary_key=True)
    last_success = models.DateTimeField(null=True, blank=True)
    last_failure = models.DateTimeField(null=True, blank=True)
    loop_seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return self.name
