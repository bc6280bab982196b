"""Filter definitions of block types, schemas and documents (reference §C.2), and of
variables (2.20 ``VariableFilter``, ``VariableSort``), the configuration kept beside blocks."""

from __future__ import annotations

from orion_project.filtering import UUID, FieldFilter, ObjectFilter, SortSpec, all_, any_, array_is_null_, eq_, like_

BLOCK_TYPE_FILTER = ObjectFilter(
    schema="BlockTypeFilter",
    description="Filter block types. Only block types matching all criteria will be returned.",
    combinable=False,
    fields=(
        FieldFilter("name", "BlockTypeFilterName", "name", (like_(),)),
        FieldFilter("slug", "BlockTypeFilterSlug", "slug", (any_(),)),
    ),
)

BLOCK_SCHEMA_FILTER = ObjectFilter(
    schema="BlockSchemaFilter",
    description="Filter block schemas. Only block schemas matching all criteria will be returned.",
    fields=(
        FieldFilter("block_type_id", "BlockSchemaFilterBlockTypeId", "block_type_id", (any_(UUID),)),
        FieldFilter("block_capabilities", "BlockSchemaFilterCapabilities", "capabilities", (all_(),)),
        FieldFilter("id", "BlockSchemaFilterId", "id", (any_(UUID),)),
        FieldFilter("version", "BlockSchemaFilterVersion", "version", (any_(),)),
    ),
)

BLOCK_DOCUMENT_FILTER = ObjectFilter(
    schema="BlockDocumentFilter",
    description="Filter block documents. Anonymous documents are hidden unless asked for.",
    defaults={"is_anonymous": {"eq_": False}},
    fields=(
        FieldFilter("id", "BlockDocumentFilterId", "id", (any_(UUID),)),
        FieldFilter("is_anonymous", "BlockDocumentFilterIsAnonymous", "is_anonymous", (eq_(),)),
        FieldFilter("block_type_id", "BlockDocumentFilterBlockTypeId", "block_type_id", (any_(UUID),)),
        FieldFilter("name", "BlockDocumentFilterName", "name", (any_(), like_())),
    ),
)

VARIABLE_FILTER = ObjectFilter(
    schema="VariableFilter",
    description="Filter variables. Only variables matching all criteria will be returned.",
    fields=(
        FieldFilter("id", "VariableFilterId", "id", (any_(UUID),)),
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
