"""Admin for runs: mostly read-only; state changes go through the orchestration engine."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from runs_app import admin_operations, services, services_220
from runs_app.models import (
    Artifact,
    ArtifactCollection,
    ConcurrencyLimit,
    FlowRun,
    FlowRunInput,
    FlowRunState,
    GlobalConcurrencyLimit,
    Log,
    TaskRun,
    TaskRunState,
)
from runs_app.selectors import concurrency_limit_holders
from runs_app.slots import sweep_stale_slots
from runs_app.states import StateType


class ReadOnlyInline(admin.TabularInline):
    """An inline that only shows rows."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FlowRunStateInline(ReadOnlyInline):
    model = FlowRunState
    fields = ("timestamp", "type", "name", "message")
    ordering = ("timestamp",)


class TaskRunInline(ReadOnlyInline):
    model = TaskRun
    fields = ("name", "task_key", "state_type", "state_name", "start_time", "end_time", "run_count")
    ordering = ("expected_start_time",)
    show_change_link = True


@admin.register(FlowRun)
class FlowRunAdmin(admin.ModelAdmin):
    """Flow runs: the recent-runs list with state and timing; history and task runs inline."""

    list_display = ("name", "flow", "state_type", "state_name", "expected_start_time", "start_time", "total_run_time")
    list_filter = ("state_type", ("expected_start_time", admin.DateFieldListFilter))
    list_select_related = ("flow",)
    search_fields = ("name", "=id")
    ordering = ("-expected_start_time",)
    show_full_result_count = False
    raw_id_fields = ("flow", "deployment", "parent_task_run", "state")
    readonly_fields = (
        "id", "created", "updated", "state", "state_type", "state_name", "state_timestamp", "run_count",
        "expected_start_time", "next_scheduled_start_time", "start_time", "end_time", "total_run_time",
    )  # fmt: skip
    inlines = (FlowRunStateInline, TaskRunInline)
    actions = ("cancel_runs", "mark_crashed", "set_state", "finish_if_stuck")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[FlowRun], search_term: str) -> Any:
        # Searching by id only makes sense with a well-formed UUID.
        try:
            uuid.UUID(search_term)
        except ValueError:
            return super().get_search_results(request, queryset, search_term.replace("=", ""))
        return queryset.filter(pk=search_term), False

    def get_urls(self) -> list[URLPattern]:
        prune = path(
            "prune/",
            self.admin_site.admin_view(lambda request: admin_operations.prune_view(self, request)),
            name="runs_app_flowrun_prune",
        )
        return [prune, *super().get_urls()]

    @admin.action(description="Cancel selected flow runs…")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> HttpResponse | None:
        return admin_operations.confirm_bulk_state(
            self, request, queryset, title="Cancel flow runs", state_type=StateType.CANCELLED
        )

    @admin.action(description="Mark selected flow runs as crashed…")
    def mark_crashed(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> HttpResponse | None:
        return admin_operations.confirm_bulk_state(
            self, request, queryset, title="Mark flow runs crashed", state_type=StateType.CRASHED
        )

    @admin.action(description="Set the state of selected flow runs…")
    def set_state(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> HttpResponse | None:
        return admin_operations.confirm_bulk_state(self, request, queryset, title="Set the state of flow runs")

    @admin.action(description="Finish selected flow runs if they are stuck")
    def finish_if_stuck(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> None:
        admin_operations.finish_stuck(self, request, queryset)

    def delete_model(self, request: HttpRequest, obj: FlowRun) -> None:
        admin_operations.delete_runs(FlowRun.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FlowRun]) -> None:
        admin_operations.delete_runs(queryset)


class TaskRunStateInline(ReadOnlyInline):
    model = TaskRunState
    fields = ("timestamp", "type", "name", "message")
    ordering = ("timestamp",)


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    """Task runs, read-only timing and state; state history inline."""

    list_display = ("name", "task_key", "flow_run", "state_type", "start_time", "end_time", "run_count")
    list_filter = ("state_type",)
    list_select_related = ("flow_run",)
    search_fields = ("name", "task_key")
    show_full_result_count = False
    raw_id_fields = ("flow_run", "state")
    readonly_fields = (
        "id", "created", "updated", "state", "state_type", "state_name", "run_count", "flow_run_run_count",
        "expected_start_time", "start_time", "end_time", "total_run_time",
    )  # fmt: skip
    inlines = (TaskRunStateInline,)


@admin.register(Log)
class LogAdmin(admin.ModelAdmin):
    """Logs are append-only: browse and search, never edit."""

    list_display = ("timestamp", "level", "name", "message", "flow_run_id", "task_run_id")
    list_filter = ("level",)
    search_fields = ("message", "=flow_run_id")
    ordering = ("-timestamp",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConcurrencyLimit)
class ConcurrencyLimitAdmin(admin.ModelAdmin):
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
        freed = sweep_stale_slots()
        self.message_user(request, f"Freed {freed} stale slot(s).", messages.SUCCESS)

    @admin.action(description="Release every slot of the selected limits")
    def release_slots(self, request: HttpRequest, queryset: QuerySet[ConcurrencyLimit]) -> None:
        released = sum(services.concurrency_limit_reset(tag=tag) for tag in queryset.values_list("tag", flat=True))
        self.message_user(request, f"Released the slots of {released} limit(s).", messages.SUCCESS)


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
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
        deleted = sum(services_220.artifact_delete(artifact_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Deleted {deleted} artifact(s).")


@admin.register(ArtifactCollection)
class ArtifactCollectionAdmin(admin.ModelAdmin):
    """The latest artifact of each key (maintained by the artifact services)."""

    list_display = ("key", "type", "latest_id", "updated")
    search_fields = ("key",)
    readonly_fields = [field.name for field in ArtifactCollection._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(FlowRunInput)
class FlowRunInputAdmin(admin.ModelAdmin):
    """Values sent to flow runs (run input); read-only."""

    list_display = ("flow_run", "key", "sender", "created")
    search_fields = ("key", "flow_run__name")
    raw_id_fields = ("flow_run",)
    readonly_fields = ("id", "created", "updated", "flow_run", "key", "value", "sender")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(GlobalConcurrencyLimit)
class GlobalConcurrencyLimitAdmin(admin.ModelAdmin):
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
