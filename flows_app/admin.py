"""Admin for flows (and, later, deployments)."""

from __future__ import annotations

from django.contrib import admin

from flows_app.models import Flow


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    """Flows: browse by name, edit tags; ids and timestamps are read-only."""

    list_display = ("name", "tag_list", "created", "updated")
    search_fields = ("name",)
    ordering = ("name",)
    readonly_fields = ("id", "created", "updated")
    fields = ("id", "name", "tags", "created", "updated")
    date_hierarchy = "created"

    @admin.display(description="Tags")
    def tag_list(self, flow: Flow) -> str:
        return ", ".join(str(tag) for tag in flow.tags or [])
