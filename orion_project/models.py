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
