"""Filter and sort definitions of variables (reference ``VariableFilter``, ``VariableSort``).

Kept outside ``api/`` so that selectors can read them without depending on the API layer.
"""

from __future__ import annotations

from orion_project.api.fields import UUIDField
from orion_project.api.filtering import FieldFilter, ObjectFilter, SortSpec, all_, any_, array_is_null_, like_

VARIABLE_FILTER = ObjectFilter(
    schema="VariableFilter",
    description="Filter variables. Only variables matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "VariableFilterId", "id", (any_(UUIDField),)),
        FieldFilter("name", "VariableFilterName", "name", (any_(), like_())),
        FieldFilter("value", "VariableFilterValue", "value", (any_(), like_())),
        FieldFilter("tags", "VariableFilterTags", "tags", (all_(), array_is_null_()), combinable=True),
    ),
)

VARIABLE_SORT = SortSpec(
    "VariableSort",
    {
        "CREATED_DESC": ("-created",),
        "UPDATED_DESC": ("-updated",),
        "NAME_DESC": ("-name",),
        "NAME_ASC": ("name",),
    },
    default="NAME_ASC",
)
