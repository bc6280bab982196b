"""Workspace administration: create, rename, and the one delete path of a workspace's
records (:func:`workspace_purge`), which ``orion_workspace delete --force`` and
``/api/.../admin/database/clear`` both go through.

A workspace's records are every row of a :class:`~orion_project.models.TenantModel`
(found through the app registry, so a tenant model added later is covered) and the rows
of the tables that carry a bare ``workspace_id`` column (the history rollups). Runs are
deleted first, through the one door out for runs (``runs_app.services.purge``), which keeps
the rollup and the artifact collections right; the other records follow, one
``DELETE ... WHERE workspace_id = %s`` per table, in the same transaction (foreign keys are
deferred on both databases, so their order does not matter). The workspace's keys and
memberships are access, not records: a clear keeps them, a delete removes them. The audit
trail stays (its events keep the workspace's slug).
"""

from __future__ import annotations

import re
from collections import Counter

from django.apps import apps
from django.db import IntegrityError, models, transaction

from access_app.models import ApiKey, AuditEvent, Membership
from access_app.selectors import clear_key_cache
from orion_project.models import DEFAULT_WORKSPACE_ID, WORKSPACE_SLUG_PATTERN, TenantModel, Workspace
from runs_app.models import FlowRun, TaskRun
from runs_app.services.purge import purge_workspace_runs

_SLUG = re.compile(f"^{WORKSPACE_SLUG_PATTERN}$")
# Kept by a clear, removed with the workspace.
ACCESS_MODELS: tuple[type[models.Model], ...] = (ApiKey, Membership)
RUN_MODELS: tuple[type[models.Model], ...] = (FlowRun, TaskRun)
# The audit trail outlives the workspace: its events keep the slug.
KEPT_MODELS: tuple[type[models.Model], ...] = (AuditEvent,)


class WorkspaceError(ValueError):
    """A workspace request that cannot be carried out; the message says why."""


def _checked_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise WorkspaceError(
            f"{slug!r} is not a workspace slug: 1 to 40 lowercase letters, digits and hyphens ([a-z0-9-]{{1,40}})."
        )
    return slug


def _workspace(slug: str) -> Workspace:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise WorkspaceError(f"No workspace {slug!r}.")
    return workspace


def _refuse_default(workspace: Workspace, verb: str) -> None:
    if workspace.pk == DEFAULT_WORKSPACE_ID:
        raise WorkspaceError(f"The workspace {workspace.slug!r} cannot be {verb}: it answers the /api/... URLs.")


def workspace_create(*, slug: str, name: str = "") -> Workspace:
    """A new, empty workspace; its API is served under ``/api/workspaces/<slug>/``."""
    _checked_slug(slug)
    try:
        with transaction.atomic():
            return Workspace.objects.create(slug=slug, name=name or slug)
    except IntegrityError:
        raise WorkspaceError(f"A workspace {slug!r} already exists.") from None


def workspace_rename(*, slug: str, new_slug: str, name: str | None = None) -> Workspace:
    """Give a workspace a new slug (its URLs change with it) and optionally a new name."""
    workspace = _workspace(slug)
    _refuse_default(workspace, "renamed")
    workspace.slug = _checked_slug(new_slug)
    if name is not None:
        workspace.name = name
    try:
        with transaction.atomic():
            workspace.save(update_fields=["slug", "name"])
    except IntegrityError:
        raise WorkspaceError(f"A workspace {new_slug!r} already exists.") from None
    return workspace


def _record_models() -> list[type[models.Model]]:
    """Every model whose rows belong to one workspace, access models included."""
    return [
        model
        for model in apps.get_models()
        if model not in KEPT_MODELS
        and (
            issubclass(model, TenantModel)
            or any(field.column == "workspace_id" for field in model._meta.concrete_fields)
        )
    ]


def workspace_contents(*, workspace_id: int) -> Counter[str]:
    """How many rows of each model the workspace holds (model label → count, non-zero only)."""
    counts: Counter[str] = Counter()
    for model in _record_models():
        count = model._base_manager.filter(workspace_id=workspace_id).count()
        if count:
            counts[model._meta.label] = count
    return counts


def workspace_purge(*, workspace_id: int) -> Counter[str]:
    """Delete every record of the workspace, its runs first through the runs' one delete
    path; the workspace itself, its keys and memberships stay. Rows deleted per model."""
    deleted: Counter[str] = Counter()
    with transaction.atomic():
        # The runs' one delete path: runs with everything pointing at them, the logs that
        # name no run, the workspace's rollup and state-count rows.
        deleted.update(
            {label: count for label, count in purge_workspace_runs(workspace_id=workspace_id).items() if count}
        )
        for model in _record_models():
            if model in ACCESS_MODELS or model in RUN_MODELS:
                continue
            rows = model._base_manager.filter(workspace_id=workspace_id)
            count = rows._raw_delete(rows.db)
            if count:
                deleted[model._meta.label] += count
    return deleted


def workspace_delete(*, slug: str, force: bool = False) -> Counter[str]:
    """Delete a workspace. Refused while it holds anything (records, keys, members) unless
    ``force``, which deletes all of it through :func:`workspace_purge` first; ``default``
    is never deleted. Rows deleted per model."""
    workspace = _workspace(slug)
    _refuse_default(workspace, "deleted")
    with transaction.atomic():
        held = workspace_contents(workspace_id=workspace.pk)
        if held and not force:
            listed = ", ".join(f"{count} {label}" for label, count in sorted(held.items()))
            raise WorkspaceError(f"The workspace {slug!r} holds {listed}; delete it with --force to remove all of it.")
        deleted = workspace_purge(workspace_id=workspace.pk)
        for model in ACCESS_MODELS:
            rows = model._base_manager.filter(workspace_id=workspace.pk)
            count = rows._raw_delete(rows.db)
            if count:
                deleted[model._meta.label] += count
        Workspace.objects.filter(pk=workspace.pk).delete()
    # Its keys are gone: no process of this server accepts them after the cache TTL, this
    # one at once.
    clear_key_cache()
    return deleted
