"""The admin per workspace: which workspaces a signed-in staff user sees and where they
may change, and the ``ModelAdmin`` base every tenant model's admin derives from.

A staff user sees the records of the workspaces they are a member of
(``access_app.models.Membership``); their role there decides what they may do: a viewer
or a runner reads, a developer or an admin also changes. Superusers see and change every
workspace. For a tenant model the role takes the place of Django's per-model permissions,
so a member needs no other grant; a record of a workspace the user does not see is not
found, exactly as an unknown id.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from access_app.models import ROLE_RANK, Membership, Role
from orion_project.models import TenantModel, Workspace

REACH_ATTRIBUTE = "_orion_admin_reach"
CHOSEN_ATTRIBUTE = "_orion_admin_workspace"
ModelT = TypeVar("ModelT", bound=models.Model)


@dataclass(frozen=True)
class AdminReach:
    """The workspaces a signed-in user reaches in the admin, with their role in each."""

    superuser: bool
    roles: Mapping[int, str]

    @property
    def viewable(self) -> list[int] | None:
        """The workspace ids whose records the user sees; ``None``: every workspace."""
        return None if self.superuser else sorted(self.roles)

    @property
    def changeable(self) -> list[int] | None:
        """The workspace ids whose records the user may change; ``None``: every workspace."""
        if self.superuser:
            return None
        return sorted(ws for ws, role in self.roles.items() if ROLE_RANK[Role(role)] >= ROLE_RANK[Role.DEVELOPER])

    def may_view(self, workspace_id: int) -> bool:
        return self.superuser or workspace_id in self.roles

    def may_change(self, workspace_id: int) -> bool:
        return self.superuser or workspace_id in (self.changeable or ())

    def may_administer(self, workspace_id: int) -> bool:
        """Whether the user manages the workspace itself (its members and settings)."""
        return self.superuser or self.roles.get(workspace_id) == Role.ADMIN

    @property
    def sees_any(self) -> bool:
        return self.superuser or bool(self.roles)

    @property
    def changes_any(self) -> bool:
        return self.superuser or bool(self.changeable)


def admin_reach(request: HttpRequest) -> AdminReach:
    """The signed-in user's reach, read once per request (one query for a staff user)."""
    reach = getattr(request, REACH_ATTRIBUTE, None)
    if reach is None:
        user = request.user
        if not (user.is_authenticated and user.is_active):
            reach = AdminReach(superuser=False, roles={})
        elif user.is_superuser:
            reach = AdminReach(superuser=True, roles={})
        else:
            roles = dict(Membership.objects.filter(user_id=user.pk).values_list("workspace_id", "role"))
            reach = AdminReach(superuser=False, roles=roles)
        setattr(request, REACH_ATTRIBUTE, reach)
    return reach


def within(
    queryset: QuerySet[ModelT], workspace_ids: Iterable[int] | None, field: str = "workspace_id"
) -> QuerySet[ModelT]:
    """``queryset`` limited to ``workspace_ids`` (``None``: unlimited).

    One workspace is an equality, so the listing indexes that lead with the workspace
    serve the query's order too; several are an ``IN``.
    """
    if workspace_ids is None:
        return queryset
    ids = sorted(set(workspace_ids))
    if len(ids) == 1:
        return queryset.filter(**{field: ids[0]})
    return queryset.filter(**{f"{field}__in": ids})


def workspaces_reached(request: HttpRequest, *, changing: bool = False) -> QuerySet[Workspace]:
    """The workspaces the user sees (or, ``changing``, may change), in slug order."""
    reach = admin_reach(request)
    return within(Workspace.objects.order_by("slug"), reach.changeable if changing else reach.viewable, "pk")


def by_workspace(rows: Iterable[tuple[Any, ...]]) -> dict[int, list[Any]]:
    """The ids of ``rows`` (id, workspace id, ...) grouped by workspace: every service
    call acts within one workspace."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row[1]].append(row[0])
    return dict(grouped)


def workspaces_shown(request: HttpRequest) -> list[int] | None:
    """The workspaces a changelist shows: the one its workspace filter chose, where the
    list shows one at a time, or all the user sees (``None``: every workspace)."""
    chosen = getattr(request, CHOSEN_ATTRIBUTE, None)
    return [chosen] if chosen is not None else admin_reach(request).viewable


def _is_tenant(model: Any) -> bool:
    return isinstance(model, type) and issubclass(model, TenantModel)


class WorkspaceListFilter(admin.SimpleListFilter):
    """The changelist's workspace filter: the workspaces the user sees."""

    title = "workspace"
    parameter_name = "workspace"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), slug) for pk, slug in workspaces_reached(request).values_list("pk", "slug")]

    def chosen_id(self) -> int | None:
        value = self.value()
        if value in (None, ""):
            return None
        try:
            return int(str(value))
        except ValueError:
            raise admin.options.IncorrectLookupParameters(f"Not a workspace id: {value!r}") from None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = self.chosen_id()
        return queryset if chosen is None else queryset.filter(workspace_id=chosen)


class OneWorkspaceListFilter(WorkspaceListFilter):
    """The workspace filter of the run and log tables: one workspace at a time, the
    user's first by default, so every page is read in order from an index that leads
    with the workspace (several workspaces would mean sorting all their rows)."""

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        if self.value() in (None, "") and self.lookup_choices:
            self.used_parameters[self.parameter_name] = self.lookup_choices[0][0]
        # The filters after this one offer the chosen workspace's records only.
        chosen = self.chosen_id()
        if chosen is not None and admin_reach(request).may_view(chosen):
            setattr(request, CHOSEN_ATTRIBUTE, chosen)

    def choices(self, changelist: ChangeList) -> Any:
        # No "All": the choices are the workspaces alone.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = self.chosen_id()
        # A user who sees no workspace sees no rows (their queryset is empty already).
        return queryset.none() if chosen is None else queryset.filter(workspace_id=chosen)


class WorkspaceRelatedFilter(admin.RelatedFieldListFilter):
    """A filter by a related tenant record (a run's flow, a queue's pool) offering only
    the records of the workspace the list shows, or of those the user sees."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        ordering = self.field_admin_ordering(field, request, model_admin)
        shown = workspaces_shown(request)
        limit = {} if shown is None else {"workspace_id__in": shown}
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


class TenantModelForm(forms.ModelForm):
    """A tenant record's form: every record it points at belongs to the record's own
    workspace (a member of two workspaces could otherwise link them)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chosen = cleaned.get("workspace")
        workspace_id = chosen.pk if isinstance(chosen, Workspace) else self.instance.workspace_id
        if workspace_id is None:
            return cleaned
        for name, value in list(cleaned.items()):
            if name != "workspace" and isinstance(value, TenantModel) and value.workspace_id != workspace_id:
                self.add_error(name, "Choose a record of the same workspace.")
        return cleaned


ActionFunction = Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Any]], Any]


def _changeable_only(function: ActionFunction) -> ActionFunction:
    @functools.wraps(function)
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return function(modeladmin, request, within(queryset, admin_reach(request).changeable))

    return action


class TenantAdmin(admin.ModelAdmin):
    """The admin of a tenant model: rows, lookups, forms and actions of the user's workspaces.

    - lists, object pages, raw-id and autocomplete lookups read ``get_queryset``, which
      holds the member workspaces only (another workspace's id is not found);
    - every changelist has the workspace column and filter (``one_workspace_at_a_time``
      for the tables of millions of rows);
    - the role in the object's workspace decides view or change;
    - actions receive only the selected rows of the workspaces where the user may change
      (a viewer is offered none);
    - a new record's workspace is required and one where the user may change; an
      existing record's workspace is read-only.
    """

    form = TenantModelForm
    one_workspace_at_a_time = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return within(super().get_queryset(request), admin_reach(request).viewable)

    def get_list_filter(self, request: HttpRequest) -> Any:
        chosen = OneWorkspaceListFilter if self.one_workspace_at_a_time else WorkspaceListFilter
        return (chosen, *super().get_list_filter(request))

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = list(super().get_list_display(request))
        if "workspace" not in shown:
            shown.insert(1, "workspace")
        return shown

    def get_list_select_related(self, request: HttpRequest) -> Any:
        chosen = super().get_list_select_related(request)
        if chosen is True:
            return True
        if not chosen:
            # What Django would join on its own: the non-null foreign keys shown.
            chosen = [
                name
                for name in self.get_list_display(request)
                if isinstance(name, str) and _is_required_foreign_key(self.model, name)
            ]
        return tuple(dict.fromkeys((*chosen, "workspace")))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if "workspace" in flatten_fieldsets(fieldsets):
            return fieldsets
        (name, options), *rest = fieldsets
        return [(name, {**options, "fields": ("workspace", *options["fields"])}), *rest]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and "workspace" not in fields:
            fields.append("workspace")
        return fields

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        reach = admin_reach(request)
        if db_field.name == "workspace":
            kwargs["queryset"] = workspaces_reached(request, changing=True)
        elif _is_tenant(db_field.related_model) and "queryset" not in kwargs:
            kwargs["queryset"] = within(db_field.related_model._default_manager.all(), reach.viewable)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        reach = admin_reach(request)
        return super().has_module_permission(request) if reach.superuser else reach.sees_any

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        reach = admin_reach(request)
        if reach.superuser:
            return super().has_view_permission(request, obj)
        return reach.sees_any if obj is None else reach.may_view(obj.workspace_id)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request, obj, super().has_change_permission)

    def has_add_permission(self, request: HttpRequest) -> bool:
        reach = admin_reach(request)
        return super().has_add_permission(request) if reach.superuser else reach.changes_any

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request, obj, super().has_delete_permission)

    def _may_change(self, request: HttpRequest, obj: Any, django_check: Callable[[HttpRequest, Any], bool]) -> bool:
        reach = admin_reach(request)
        if reach.superuser:
            return django_check(request, obj)
        return reach.changes_any if obj is None else reach.may_change(obj.workspace_id)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        if not admin_reach(request).changes_any:
            return {}
        offered: dict[str, Any] = dict(super().get_actions(request) or {})
        return {
            name: (_changeable_only(function), action_name, description)
            for name, (function, action_name, description) in offered.items()
        }


def _is_required_foreign_key(model: type[models.Model], name: str) -> bool:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a method or an admin display
        return False
    return isinstance(field, models.ForeignKey) and not field.null


class SharedCatalogueAdmin(admin.ModelAdmin):
    """A table every workspace shares (block types and schemas clients register): any
    member reads it, only superusers change it."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        reach = admin_reach(request)
        return super().has_module_permission(request) if reach.superuser else reach.sees_any

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        reach = admin_reach(request)
        return super().has_view_permission(request, obj) if reach.superuser else reach.sees_any

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_reach(request).superuser and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return admin_reach(request).superuser and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_reach(request).superuser and super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return super().get_actions(request) if admin_reach(request).superuser else {}
