"""Admin for flows, deployments, work pools and queues, saved searches and notification policies."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from flows_app.deployment_services import deployment_create_flow_run
from flows_app.models import Deployment, Flow, FlowRunNotificationPolicy, SavedSearch, WorkPool, WorkQueue


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


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    """Deployments: schedule shown readably, active toggle, and a "run now" action that goes
    through the same service as ``POST /deployments/{id}/create_flow_run``."""

    list_display = ("name", "flow", "schedule_summary", "is_schedule_active", "paused", "work_queue_name", "updated")
    list_editable = ("is_schedule_active",)
    list_filter = ("is_schedule_active", "paused")
    list_select_related = ("flow",)
    search_fields = ("name", "flow__name")
    raw_id_fields = ("flow", "work_queue")
    readonly_fields = ("id", "created", "updated", "last_polled")
    actions = ("run_now",)

    @admin.display(description="Schedule")
    def schedule_summary(self, deployment: Deployment) -> str:
        return describe_schedule(deployment.schedule)

    @admin.action(description="Run the selected deployments now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        for deployment in queryset:
            deployment_create_flow_run(deployment=deployment, data={})
        self.message_user(request, f"Created {queryset.count()} flow run(s).", messages.SUCCESS)


def describe_schedule(schedule: dict[str, Any] | None) -> str:
    """A schedule in words: "every 3600 s", "cron 0 9 * * * (Europe/Paris)", "rrule ..."."""
    if not schedule:
        return "—"
    zone = f" ({schedule['timezone']})" if schedule.get("timezone") else ""
    if "interval" in schedule:
        return f"every {schedule['interval']:g} s{zone}"
    if "cron" in schedule:
        return f"cron {schedule['cron']}{zone}"
    return f"rrule {schedule.get('rrule', '')}{zone}"


def _set_paused(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], paused: bool) -> None:
    updated = queryset.update(is_paused=paused, updated=timezone.now())
    model_admin.message_user(request, f"{'Paused' if paused else 'Resumed'} {updated} row(s).", messages.SUCCESS)


@admin.register(WorkPool)
class WorkPoolAdmin(admin.ModelAdmin):
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
class WorkQueueAdmin(admin.ModelAdmin):
    """Work queues with pause and resume actions."""

    list_display = ("name", "work_pool", "priority", "is_paused", "concurrency_limit", "last_polled")
    list_filter = ("is_paused", "work_pool")
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
class SavedSearchAdmin(admin.ModelAdmin):
    """Saved UI searches."""

    list_display = ("name", "updated")
    search_fields = ("name",)
    readonly_fields = ("id", "created", "updated")


@admin.register(FlowRunNotificationPolicy)
class FlowRunNotificationPolicyAdmin(admin.ModelAdmin):
    """Flow-run notification policies."""

    list_display = ("id", "is_active", "state_names", "tags", "block_document_id")
    list_filter = ("is_active",)
    readonly_fields = ("id", "created", "updated")
