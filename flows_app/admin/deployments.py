"""Admin for deployments. Every write goes through ``flows_app.services.deployments``.

Saving a deployment here has the same side effects as ``PATCH /deployments/{id}``. The
schedule rows the scheduler reads are rebuilt, and auto-scheduled runs that have not
started are dropped. A plain ``ModelAdmin`` save would leave those runs queued for
agents after the schedule was turned off or changed. "Run now" creates a run exactly as
``POST /deployments/{id}/create_flow_run`` does.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from access_app.admin_scope import TenantAdmin, TenantModelForm
from flows_app.models import Deployment, DeploymentSchedule
from flows_app.schedules import ScheduleError, parse_schedule
from flows_app.services.deployments import (
    deployment_create_flow_run,
    deployment_delete,
    deployment_set_liveness_silence,
    deployment_set_paused,
    deployment_set_schedule_active,
    deployment_update,
)
from runs_app.orchestration.context import ProposedState
from runs_app.states import StateType

# What the change form may write: the fields of PATCH /deployments/{id} that make sense
# to edit by hand. Name, flow and the storage/infrastructure references stay read-only
# (clients re-apply a deployment to change those).
EDITABLE_FIELDS = (
    "description",
    "version",
    "is_schedule_active",
    "paused",
    "schedule",
    "parameters",
    "tags",
    "work_queue_name",
    "liveness_silence_seconds",
)
RUN_NOW_MESSAGE = "Run requested from the admin"

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _every(seconds: float) -> str:
    """``3600`` → ``every hour``; ``5400`` → ``every 90 minutes``."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds:g} seconds"


def describe_schedule(schedule: dict[str, Any] | None) -> str:
    """A schedule in words: "every hour (UTC)", "cron 0 9 * * * (Europe/Paris)", "rrule …"."""
    if not schedule:
        return "—"
    zone = f" ({schedule['timezone']})" if schedule.get("timezone") else ""
    if "interval" in schedule:
        try:
            return f"{_every(float(schedule['interval']))}{zone}"
        except (TypeError, ValueError):
            return f"every {schedule['interval']}{zone}"
    if "cron" in schedule:
        return f"cron {schedule['cron']}{zone}"
    return f"rrule {schedule.get('rrule', '')}{zone}"


class DeploymentScheduleInline(admin.TabularInline):
    """The schedule rows the scheduler reads (2.20 ``schedules``; a 2.7 ``schedule`` is one row)."""

    model = DeploymentSchedule
    fields = ("summary", "active", "max_scheduled_runs", "catchup", "created")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Schedule")
    def summary(self, row: DeploymentSchedule) -> str:
        return describe_schedule(row.schedule)


class DeploymentAdminForm(TenantModelForm):
    """The editable fields, validated as the API validates them."""

    class Meta:
        model = Deployment
        fields = EDITABLE_FIELDS
        help_texts = {
            "schedule": 'JSON: {"interval": 3600}, {"cron": "0 9 * * *", "timezone": "Europe/Paris"} or {"rrule": "…"}.'
        }

    def clean_schedule(self) -> dict[str, Any] | None:
        value = self.cleaned_data.get("schedule")
        if value in (None, "", {}):
            return None
        try:
            return parse_schedule(value).to_json()
        except ScheduleError as error:
            raise forms.ValidationError(error.message) from None

    def clean_parameters(self) -> dict[str, Any]:
        value = self.cleaned_data.get("parameters")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Parameters must be a JSON object.")
        return value

    def clean_tags(self) -> list[str]:
        value = self.cleaned_data.get("tags")
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
            raise forms.ValidationError("Tags must be a JSON list of strings.")
        return value


class DeploymentAdmin(TenantAdmin):
    """Deployments: schedules in words, an active toggle and "run now", all through services."""

    form = DeploymentAdminForm
    list_display = (
        "name",
        "flow",
        "schedule_summary",
        "is_schedule_active",
        "paused",
        "work_pool_name",
        "work_queue_name",
        "updated",
    )
    list_filter = ("is_schedule_active", "paused")
    list_select_related = ("flow", "work_queue__work_pool")
    search_fields = ("name", "flow__name", "=id")
    ordering = ("name",)
    inlines = (DeploymentScheduleInline,)
    readonly_fields = (
        "id",
        "name",
        "flow",
        "work_pool_name",
        "entrypoint",
        "path",
        "storage_document_id",
        "infrastructure_document_id",
        "infra_overrides",
        "enforce_parameter_schema",
        "created",
        "updated",
        "last_polled",
    )
    fieldsets = (
        (None, {"fields": ("id", "name", "flow", "description", "version", "tags")}),
        ("Schedule", {"fields": ("is_schedule_active", "paused", "schedule")}),
        (
            "Runs",
            {
                "fields": (
                    "parameters",
                    "work_pool_name",
                    "work_queue_name",
                    "enforce_parameter_schema",
                    "liveness_silence_seconds",
                )
            },
        ),
        (
            "Infrastructure",
            {
                "classes": ("collapse",),
                "fields": (
                    "entrypoint",
                    "path",
                    "storage_document_id",
                    "infrastructure_document_id",
                    "infra_overrides",
                ),
            },
        ),
        ("History", {"fields": ("created", "updated", "last_polled")}),
    )
    actions = ("run_now", "activate_schedule", "deactivate_schedule", "pause", "resume")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Deployment]:
        return super().get_queryset(request).annotate(schedule_count=Count("schedules"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Deployments are applied by clients (POST /deployments/ upserts on flow and name).
        return False

    @admin.display(description="Schedule")
    def schedule_summary(self, deployment: Deployment) -> str:
        text = describe_schedule(deployment.schedule)
        extra = getattr(deployment, "schedule_count", 0) - (1 if deployment.schedule else 0)
        return f"{text} (+{extra} more)" if extra > 0 else text

    @admin.display(description="Work pool")
    def work_pool_name(self, deployment: Deployment) -> str:
        queue = deployment.work_queue
        return queue.work_pool.name if queue is not None else "—"

    def save_model(self, request: HttpRequest, obj: Deployment, form: forms.ModelForm, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        workspace_id = obj.workspace_id
        if "liveness_silence_seconds" in changes:
            seconds = changes.pop("liveness_silence_seconds")
            deployment_set_liveness_silence(deployment_id=obj.pk, seconds=seconds, workspace_id=workspace_id)
        if changes:
            deployment_update(deployment_id=obj.pk, changes=changes, workspace_id=workspace_id)

    def delete_model(self, request: HttpRequest, obj: Deployment) -> None:
        deployment_delete(deployment_id=obj.pk, workspace_id=obj.workspace_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        for deployment_id, workspace_id in list(queryset.values_list("pk", "workspace_id")):
            deployment_delete(deployment_id=deployment_id, workspace_id=workspace_id)

    @admin.action(description="Run now (scheduled for now; agents and workers pick it up)")
    def run_now(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        # A SCHEDULED state, as the Prefect client sends: a PENDING run (the API default)
        # is never offered to agents or workers, which only poll for scheduled runs.
        created = 0
        for deployment in queryset.select_related("work_queue"):
            run, _ = deployment_create_flow_run(
                deployment=deployment,
                data={},
                initial_state=ProposedState.make(
                    type=StateType.SCHEDULED, timestamp=timezone.now(), message=RUN_NOW_MESSAGE
                ),
                workspace_id=deployment.workspace_id,
            )
            self.log_change(request, deployment, f"Run now from the admin: flow run {run.name} ({run.pk}).")
            created += 1
        self.message_user(request, f"Created {created} flow run(s).", messages.SUCCESS)

    @admin.action(description="Turn the schedule on")
    def activate_schedule(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._each(request, queryset, deployment_set_schedule_active, "Turned on", active=True)

    @admin.action(description="Turn the schedule off (drops runs not yet started)")
    def deactivate_schedule(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._each(request, queryset, deployment_set_schedule_active, "Turned off", active=False)

    @admin.action(description="Pause (drops runs not yet started)")
    def pause(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._each(request, queryset, deployment_set_paused, "Paused", paused=True)

    @admin.action(description="Resume")
    def resume(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._each(request, queryset, deployment_set_paused, "Resumed", paused=False)

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Deployment], service: Any, verb: str, **kwargs: Any
    ) -> None:
        deployments = list(queryset)
        for deployment in deployments:
            service(deployment_id=deployment.pk, workspace_id=deployment.workspace_id, **kwargs)
            self.log_change(request, deployment, f"{verb} from the admin.")
        self.message_user(request, f"{verb} {len(deployments)} deployment(s).", messages.SUCCESS)


admin.site.register(Deployment, DeploymentAdmin)
