"""The filter and sorts of ``/automations/filter`` (the reference's ``AutomationFilter``)."""

from __future__ import annotations

from orion_project.filtering import FieldFilter, ObjectFilter, SortSpec, any_, before_

AUTOMATION_FILTER = ObjectFilter(
    schema="AutomationFilter",
    description="Filter automations. Only automations matching all criteria will be returned.",
    fields=(
        FieldFilter("name", "AutomationFilterName", "name", (any_(),)),
        FieldFilter("created", "AutomationFilterCreated", "created", (before_(),)),
    ),
)

AUTOMATION_SORT = SortSpec(
    "AutomationSort",
    {
        "CREATED_DESC": ("-created",),
        "UPDATED_DESC": ("-updated",),
        "NAME_ASC": ("name",),
        "NAME_DESC": ("-name",),
    },
    default="NAME_ASC",
)
