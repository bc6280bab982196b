"""The abstract base every stored resource shares."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, Self

from django.core.validators import RegexValidator
from django.db import models
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.signals import post_init, pre_init
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

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Self:
        """A row read from the database as an instance: its column values put in the
        instance's ``__dict__`` as ``Model.__init__`` would set them, without its walk
        over every field and its two signals: a page of runs builds three or four
        instances per row, each of every page the dashboard loads.

        The same instance as Django's: ``field_names`` are the read columns' attribute
        names in the order of ``values`` (the deferred ones absent, as Django leaves
        them), and nothing else ``__init__`` does applies to a row read. A model with
        ``pre_init``/``post_init`` receivers or a field whose descriptor does more than
        store the value goes through Django's own ``from_db``.
        """
        if not _stores_plainly(cls):
            return super().from_db(db, field_names, values)
        new = cls.__new__(cls)
        state = ModelState()
        state.adding = False
        state.db = db
        attributes = new.__dict__
        attributes["_state"] = state
        attributes.update(zip(field_names, values, strict=True))
        return new


def _stores_plainly(model: type[models.Model]) -> bool:
    """Whether ``Model.__init__`` with positional values only stores each value under
    its attribute name for ``model``: no receivers of the init signals at all, and no field's
    class attribute a descriptor that does more on assignment (a foreign key's only
    forgets a cached related object, which a new instance has not)."""
    if pre_init.receivers or post_init.receivers:
        return False
    plain = _PLAIN_MODELS.get(model)
    if plain is None:
        plain = _PLAIN_MODELS[model] = all(
            isinstance(getattr(model, field.attname, None), ForeignKeyDeferredAttribute)
            or not hasattr(type(getattr(model, field.attname, None)), "__set__")
            for field in model._meta.concrete_fields
        )
    return plain


_PLAIN_MODELS: dict[type[models.Model], bool] = {}


DEFAULT_WORKSPACE_ID = 1
DEFAULT_WORKSPACE_SLUG = "default"
# A slug is a URL path segment (``/api/workspaces/<slug>/``): lowercase letters, digits
# and hyphens, at most 40 characters.
WORKSPACE_SLUG_PATTERN = r"[a-z0-9-]{1,40}"


class Workspace(models.Model):
    """One team's space on the server: every flow, run, block, limit and key belongs to
    exactly one workspace, and nothing is read or written across two.

    The integer key keeps the ``workspace_id`` column that leads the big tables' indexes
    small. The workspace ``default`` (id 1) is created by the migration that introduced
    workspaces; it owns every row written before, answers the un-prefixed ``/api/...``
    URLs, and can be neither renamed nor deleted.
    """

    id = models.AutoField(primary_key=True)
    slug = models.CharField(max_length=40, validators=[RegexValidator(f"^{WORKSPACE_SLUG_PATTERN}$")])
    name = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["slug"], name="uq_workspace_slug")]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_default(self) -> bool:
        return self.pk == DEFAULT_WORKSPACE_ID


class TenantModel(OrionModel):
    """A record of one workspace (:class:`Workspace`).

    The column has no default on purpose: a write that forgets its workspace fails
    instead of landing in ``default``. It has no index of its own either; the tables'
    indexes lead with it where a query filters by it.

    Nor a foreign-key constraint in the database: PostgreSQL would check it with a
    trigger on every inserted row (a log batch, every state) and take a ``KEY SHARE`` lock
    on the one row of the workspace in every writing transaction, which all of a busy
    workspace's writers share. The value comes only from the request's door (or the
    parent row); Django's ``PROTECT`` still refuses to delete a workspace that holds
    records, and a workspace is emptied through its one delete path first.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )

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
