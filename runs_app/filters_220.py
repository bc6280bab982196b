"""Filter and sort definitions of the 2.20 artifact resources (reference ``ArtifactFilter``,
``ArtifactCollectionFilter``, ``ArtifactSort``, ``ArtifactCollectionSort``).

Kept outside ``api/`` so that selectors can read them without depending on the API layer.
"""

from __future__ import annotations

from django.db.models import Q

from orion_project.filtering import (
    BOOL,
    UUID,
    Condition,
    FieldFilter,
    ObjectFilter,
    SortSpec,
    any_,
    custom,
    like_,
    not_any_,
)


def _key_exists(column: str, exists: bool) -> Condition:
    """``key.exists_``: only artifacts with (``true``) or without (``false``) a key."""
    return Q(**{f"{column}__isnull": not exists})


def _artifact_filter(schema: str, id_key: str, id_column: str) -> ObjectFilter:
    """The two artifact filters differ only in their id field and schema names."""
    return ObjectFilter(
        schema=schema,
        description=f"Filter {'artifact collections' if 'Collection' in schema else 'artifacts'}.",
        fields=(
            FieldFilter(id_key, f"{schema}{'LatestId' if id_key == 'latest_id' else 'Id'}", id_column, (any_(UUID),)),
            FieldFilter(
                "key",
                f"{schema}Key",
                "key",
                (any_(), like_(), custom("exists_", BOOL, _key_exists, "Only artifacts with (or without) a key.")),
            ),
            FieldFilter("flow_run_id", f"{schema}FlowRunId", "flow_run_id", (any_(UUID),)),
            FieldFilter("task_run_id", f"{schema}TaskRunId", "task_run_id", (any_(UUID),)),
            FieldFilter("type", f"{schema}Type", "type", (any_(), not_any_())),
        ),
    )


ARTIFACT_FILTER = _artifact_filter("ArtifactFilter", "id", "id")
ARTIFACT_COLLECTION_FILTER = _artifact_filter("ArtifactCollectionFilter", "latest_id", "latest_id")

_ARTIFACT_ORDERS: dict[str, tuple[str, ...]] = {
    "CREATED_DESC": ("-created",),
    "UPDATED_DESC": ("-updated",),
    "ID_DESC": ("-id",),
    "KEY_DESC": ("-key",),
    "KEY_ASC": ("key",),
}
ARTIFACT_SORT = SortSpec("ArtifactSort", _ARTIFACT_ORDERS, default="ID_DESC")
ARTIFACT_COLLECTION_SORT = SortSpec("ArtifactCollectionSort", _ARTIFACT_ORDERS, default="ID_DESC")
