"""Changelist filters for runs, each answered by an index of ``runs_app.models``.

The run lists show one workspace at a time (``access_app.admin_scope``), so the state
filter uses ``ix_fr_ws_state_expected``, the window ``ix_fr_ws_expected_start``, "late"
``ix_fr_ws_state_name``, flow and deployment their ``(fk, -expected_start_time)`` indexes,
and tags the GIN index on PostgreSQL (``tags_all`` lookup).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from access_app.admin_scope import within, workspaces_shown
from flows_app.models import Flow
from runs_app.models import FlowRunQuerySet

WINDOWS = {
    "1h": ("Last hour", dt.timedelta(hours=1)),
    "24h": ("Last 24 hours", dt.timedelta(hours=24)),
    "7d": ("Last 7 days", dt.timedelta(days=7)),
    "30d": ("Last 30 days", dt.timedelta(days=30)),
}


class ExpectedStartWindowFilter(admin.SimpleListFilter):
    """Runs expected to start within a rolling window up to now, or in the future."""

    title = "expected start"
    parameter_name = "window"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _) in WINDOWS.items()] + [("upcoming", "Upcoming")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "upcoming":
            return queryset.filter(expected_start_time__gt=now)
        if self.value() in WINDOWS:
            return queryset.filter(
                expected_start_time__gte=now - WINDOWS[str(self.value())][1], expected_start_time__lte=now
            )
        return queryset


class LateFilter(admin.SimpleListFilter):
    """Late runs (``FlowRunQuerySet.late``)."""

    title = "lateness"
    parameter_name = "late"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Late runs")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return cast(FlowRunQuerySet, queryset).late()
        return queryset


class TagFilter(admin.SimpleListFilter):
    """Runs carrying a tag; the choices are the tags of the listed workspace's flows (a
    small table), any tag can be given in the URL (``?tag=nightly``)."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        tags: set[str] = set()
        flows = within(Flow.objects.all(), workspaces_shown(request))
        for flow_tags in flows.values_list("tags", flat=True)[:1000]:
            tags.update(str(tag) for tag in flow_tags or [])
        value = self.value()
        if value:
            tags.add(str(value))
        return [(tag, tag) for tag in sorted(tags)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(tags__tags_all=[self.value()])
        return queryset
