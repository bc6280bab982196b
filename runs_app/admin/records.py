"""Admin for logs (append-only) and tag concurrency limits."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from access_app.admin_scope import TenantAdmin, by_workspace
from orion_project.admin_tools import EstimatedCountPaginator, OrionModelAdmin
from runs_app.background.slots import workspace_stale_slots_sweep
from runs_app.models import (
    Artifact,
    ArtifactCollection,
    ConcurrencyLimit,
    FlowRunInput,
    GlobalConcurrencyLimit,
    Log,
)
from runs_app.selectors.concurrency_limits import concurrency_limit_holders
from runs_app.services.artifacts import artifact_delete
from runs_app.services.concurrency_limits import concurrency_limit_reset


@admin.register(Log)
class LogAdmin(TenantAdmin, OrionModelAdmin):
    """Logs are append-only: browse and search, never edit. A run's page links here with
    ``?flow_run_id=`` or ``?task_run_id=`` (served by the log indexes); one workspace at a
    time, read from the index led by the workspace."""

    list_display = ("timestamp", "level", "name", "message", "flow_run_id", "task_run_id")
    list_filter = ("level",)
    search_fields = ("message",)
    ordering = ("-timestamp",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    one_workspace_at_a_time = True

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup in ("flow_run_id", "task_run_id") or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConcurrencyLimit)
class ConcurrencyLimitAdmin(TenantAdmin, OrionModelAdmin):
    """Tag concurrency limits with the task runs holding their slots."""

    list_display = ("tag", "concurrency_limit", "max_hold_seconds", "slots_in_use", "holders")
    search_fields = ("tag",)
    fields = ("id", "tag", "concurrency_limit", "max_hold_seconds", "holders_since", "created", "updated")
    readonly_fields = ("id", "created", "updated", "holders_since")
    actions = ("release_slots", "free_stale_slots")

    @admin.display(description="Slots in use")
    def slots_in_use(self, limit: ConcurrencyLimit) -> int:
        return len(limit.active_slots or [])

    @admin.display(description="Held by task runs")
    def holders(self, limit: ConcurrencyLimit) -> str:
        return ", ".join(str(slot) for slot in limit.active_slots or []) or "—"

    @admin.display(description="Held by (task run, state, since)")
    def holders_since(self, limit: ConcurrencyLimit) -> str:
        rows = concurrency_limit_holders(limit=limit)
        if not rows:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> {} · {} · since {}{}',
            (
                (
                    reverse("admin:runs_app_taskrun_change", args=[row.task_run_id]) if row.name else "#",
                    row.name or row.task_run_id,
                    row.state or "deleted",
                    f"flow run {row.flow_run_state}" if row.flow_run_state else "no flow run",
                    row.since.isoformat(timespec="seconds") if row.since else "unknown",
                    f" (stale: {row.stale})" if row.stale else "",
                )
                for row in rows
            ),
        )

    @admin.action(description="Free the stale slots (holder gone, finished or over its maximum hold)")
    def free_stale_slots(self, request: HttpRequest, queryset: QuerySet[ConcurrencyLimit]) -> None:
        # The sweep covers every limit of the selected limits' workspaces.
        limits = list(queryset)
        freed = 0
        for workspace_id in sorted({limit.workspace_id for limit in limits}):
            freed += workspace_stale_slots_sweep(workspace_id=workspace_id)
        for limit in limits:
            self.log_change(request, limit, "Freed the stale slots from the admin.")
        self.message_user(request, f"Freed {freed} stale slot(s).", messages.SUCCESS)

    @admin.action(description="Release every slot of the selected limits")
    def release_slots(self, request: HttpRequest, queryset: QuerySet[ConcurrencyLimit]) -> None:
        released = 0
        for limit in queryset:
            if concurrency_limit_reset(tag=limit.tag, workspace_id=limit.workspace_id):
                self.log_change(request, limit, "Released every slot from the admin.")
                released += 1
        self.message_user(request, f"Released the slots of {released} limit(s).", messages.SUCCESS)


@admin.register(Artifact)
class ArtifactAdmin(TenantAdmin):
    """Artifacts are written by runs; read-only here (deleting goes through the service so
    the latest-per-key collection follows)."""

    list_display = ("key", "type", "flow_run_id", "task_run_id", "created")
    list_filter = ("type",)
    search_fields = ("key", "description")
    readonly_fields = [field.name for field in Artifact._meta.fields]
    show_full_result_count = False
    actions = ["delete_through_service"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Delete selected artifacts")
    def delete_through_service(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> None:
        rows = list(queryset.values_list("pk", "workspace_id"))
        self.log_deletions(request, queryset)
        deleted = sum(
            artifact_delete(artifact_id=pk, workspace_id=workspace_id)
            for workspace_id, ids in by_workspace(rows).items()
            for pk in ids
        )
        self.message_user(request, f"Deleted {deleted} artifact(s).")


@admin.register(ArtifactCollection)
class ArtifactCollectionAdmin(TenantAdmin):
    """The latest artifact of each key (maintained by the artifact services)."""

    list_display = ("key", "type", "latest_id", "updated")
    search_fields = ("key",)
    readonly_fields = [field.name for field in ArtifactCollection._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(FlowRunInput)
class FlowRunInputAdmin(TenantAdmin):
    """Values sent to flow runs (run input); read-only."""

    list_display = ("flow_run", "key", "sender", "created")
    search_fields = ("key", "flow_run__name")
    raw_id_fields = ("flow_run",)
    readonly_fields = ("id", "created", "updated", "flow_run", "key", "value", "sender")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(GlobalConcurrencyLimit)
class GlobalConcurrencyLimitAdmin(TenantAdmin):
    """Global (v2) concurrency limits; slot counters are changed by the increment/decrement
    routes under row locks, so they are read-only here."""

    list_display = ("name", "active", "limit", "active_slots", "slot_decay_per_second", "updated")
    list_filter = ("active",)
    search_fields = ("name",)
    fields = (
        "name",
        "active",
        "limit",
        "slot_decay_per_second",
        "active_slots",
        "denied_slots",
        "avg_slot_occupancy_seconds",
    )
    readonly_fields = ("active_slots", "denied_slots", "avg_slot_occupancy_seconds")
