"""Admin for flows, deployments, work pools and queues, saved searches and notification policies."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access_app.admin_scope import TenantAdmin, WorkspaceRelatedFilter
from flows_app.models import Flow, FlowRunNotificationPolicy, SavedSearch, WorkPool, WorkQueue
from flows_app.services.flows import flow_delete
from flows_app.services.work import work_pool_update, work_queue_update


@admin.register(Flow)
class FlowAdmin(TenantAdmin):
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

    # Through the service: a flow's runs leave by the one delete path (logs, rollup).
    def delete_model(self, request: HttpRequest, obj: Flow) -> None:
        flow_delete(flow_id=obj.pk, workspace_id=obj.workspace_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Flow]) -> None:
        for flow_id, workspace_id in list(queryset.values_list("pk", "workspace_id")):
            flow_delete(flow_id=flow_id, workspace_id=workspace_id)


def _set_paused(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], paused: bool) -> None:
    """Through the services, so each change announces its status event as an API write does."""
    verb = "Paused" if paused else "Resumed"
    rows = list(queryset.exclude(is_paused=paused))
    for row in rows:
        changes = {"is_paused": paused}
        if isinstance(row, WorkPool):
            work_pool_update(workspace_id=row.workspace_id, name=row.name, changes=changes)
        else:
            work_queue_update(workspace_id=row.workspace_id, queue_id=row.pk, changes=changes)
    for row in rows:
        model_admin.log_change(request, row, f"{verb} from the admin.")
    model_admin.message_user(request, f"{verb} {len(rows)} row(s).", messages.SUCCESS)


@admin.register(WorkPool)
class WorkPoolAdmin(TenantAdmin):
    """Work pools with pause and resume actions."""

    list_display = ("name", "type", "is_paused", "concurrency_limit", "created")
    search_fields = ("name",)
    readonly_fields = ("id", "created", "updated")
    raw_id_fields = ("default_queue",)
    actions = ("pause", "resume")

    @admin.action(description="Pause the selected pools")
    def pause(self, request: HttpRequest, queryset: QuerySet[WorkPool]) -> None:
        _set_paused(self, request, queryset, True)

    @admin.action(description="Resume the selected pools")
    def resume(self, request: HttpRequest, queryset: QuerySet[WorkPool]) -> None:
        _set_paused(self, request, queryset, False)


@admin.register(WorkQueue)
class WorkQueueAdmin(TenantAdmin):
    """Work queues with pause and resume actions; the pool is chosen by name (autocomplete)."""

    list_display = ("name", "work_pool", "priority", "is_paused", "concurrency_limit", "last_polled")
    list_filter = ("is_paused", ("work_pool", WorkspaceRelatedFilter))
    autocomplete_fields = ("work_pool",)
    list_select_related = ("work_pool",)
    search_fields = ("name",)
    readonly_fields = ("id", "created", "updated", "last_polled")
    actions = ("pause", "resume")

    @admin.action(description="Pause the selected queues")
    def pause(self, request: HttpRequest, queryset: QuerySet[WorkQueue]) -> None:
        _set_paused(self, request, queryset, True)

    @admin.action(description="Resume the selected queues")
    def resume(self, request: HttpRequest, queryset: QuerySet[WorkQueue]) -> None:
        _set_paused(self, request, queryset, False)


@admin.register(SavedSearch)
class SavedSearchAdmin(TenantAdmin):
    """Saved UI searches."""

    list_display = ("name", "updated")
    search_fields = ("name",)
    readonly_fields = ("id", "created", "updated")


@admin.register(FlowRunNotificationPolicy)
class FlowRunNotificationPolicyAdmin(TenantAdmin):
    """Flow-run notification policies."""

    list_display = ("id", "is_active", "state_names", "tags", "block_document_id")
    list_filter = ("is_active",)
    readonly_fields = ("id", "created", "updated")
