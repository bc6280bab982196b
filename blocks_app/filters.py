"""Filter definitions of block types, schemas and documents (reference §C.2)."""

from __future__ import annotations

from orion_project.filtering import UUID, FieldFilter, ObjectFilter, all_, any_, eq_, like_

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
