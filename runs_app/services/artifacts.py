"""Writes of artifacts (with the latest-per-key collection, 2.20 ``/artifacts``). Each
function is one transaction. Keys are per workspace: a key's collection row gathers the
artifacts of its own workspace only."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from runs_app.models import Artifact, ArtifactCollection

# The artifact columns copied onto its key's collection row.
COLLECTION_COLUMNS = ("type", "description", "data", "metadata", "flow_run_id", "task_run_id")


def artifact_create(*, data: Mapping[str, Any], workspace_id: int) -> Artifact:
    """Store an artifact in the workspace; one with a key also becomes the latest of its
    key's collection."""
    now = timezone.now()
    with transaction.atomic():
        artifact = Artifact.objects.create(**data, created=now, workspace_id=workspace_id)
        # ``updated`` is stamped on save; the reference answers a new artifact with both equal.
        Artifact.objects.filter(pk=artifact.pk).update(updated=now)
        artifact.updated = now
        if artifact.key is not None:
            copied = {column: getattr(artifact, column) for column in COLLECTION_COLUMNS}
            # The collection row of a key keeps its id and created time across versions.
            collection = ArtifactCollection.objects.filter(workspace_id=workspace_id, key=artifact.key)
            updated = collection.update(latest_id=artifact.id, updated=now, **copied)
            if not updated:
                try:
                    with transaction.atomic():
                        ArtifactCollection.objects.create(
                            key=artifact.key, latest_id=artifact.id, created=now, workspace_id=workspace_id, **copied
                        )
                except IntegrityError:  # a concurrent first artifact of the key won the insert
                    collection.update(latest_id=artifact.id, updated=now, **copied)
    return artifact


def artifact_update(*, artifact_id: uuid.UUID, changes: Mapping[str, Any], workspace_id: int) -> bool:
    """Change an artifact's data, description or metadata, and its collection row if it
    is the latest of its key.

    As in the 2.20 reference, the answer is whether a *collection* row changed: updating
    an artifact without a key, or an older version, changes it but reports ``False``.
    """
    now = timezone.now()
    with transaction.atomic():
        Artifact.objects.filter(pk=artifact_id, workspace_id=workspace_id).update(**changes, updated=now)
        collection = ArtifactCollection.objects.filter(latest_id=artifact_id, workspace_id=workspace_id)
        return collection.update(**changes, updated=now) > 0


def artifact_delete(*, artifact_id: uuid.UUID, workspace_id: int) -> bool:
    """Delete an artifact of the workspace; if it was the latest of its key, the next
    newest takes its place in the collection (or the key's collection row goes). ``False``
    if there is none."""
    with transaction.atomic():
        artifact = Artifact.objects.select_for_update().filter(pk=artifact_id, workspace_id=workspace_id).first()
        if artifact is None:
            return False
        artifact.delete()
        if artifact.key is not None:
            _repair(ArtifactCollection.objects.filter(workspace_id=workspace_id, key=artifact.key))
    return True


def artifact_collections_repair() -> None:
    """Point each collection row whose latest artifact is gone at the next newest artifact
    of its key in its own workspace, or drop the row when none is left. Call it inside the
    transaction that deleted the artifacts (of runs of any workspace: each row is repaired
    within the workspace it belongs to)."""
    _repair(ArtifactCollection.objects.all())


def _repair(collections: QuerySet[ArtifactCollection]) -> None:
    stale = collections.exclude(latest_id__in=Artifact.objects.values("pk"))
    for collection in stale.select_for_update():
        successor = (
            Artifact.objects.filter(workspace_id=collection.workspace_id, key=collection.key)
            .order_by("-created")
            .first()
        )
        row = ArtifactCollection.objects.filter(pk=collection.pk)
        if successor is None:
            row.delete()
        else:
            copied = {column: getattr(successor, column) for column in COLLECTION_COLUMNS}
            row.update(latest_id=successor.id, created=successor.created, updated=timezone.now(), **copied)
