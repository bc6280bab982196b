"""Admin for API keys (create: the key is shown once, on its own page; list; revoke),
workspaces and their members."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from access_app import admin_audit  # noqa: F401  (registers the audit trail's admin)
from access_app.admin_scope import TenantAdmin, WorkspaceListFilter, admin_reach, within, workspaces_reached
from access_app.models import ApiKey, Membership, Role
from access_app.services import ApiKeyError, api_key_create, api_key_revoke
from orion_project.models import Workspace

NEW_KEY_ATTRIBUTE = "_orion_new_api_key"
CHANGE_FIELDS = ["name", "workspace", "prefix", "role", "expires", "revoked", "last_used", "created"]


class ApiKeyCreateForm(forms.ModelForm):
    """Name, workspace, role and an optional expiry in the future."""

    class Meta:
        model = ApiKey
        fields = ["name", "workspace", "role", "expires"]
        widgets = {"name": forms.TextInput}

    def clean_expires(self) -> Any:
        expires = self.cleaned_data.get("expires")
        if expires is not None and expires <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    """Keys are created through the service; the secret is rendered once, never stored or
    messaged. A workspace's keys are its ``admin`` members' to see, create and revoke
    (superusers: every workspace's)."""

    list_display = ("name", "workspace", "prefix", "role", "expires", "revoked", "last_used", "created")
    list_filter = ("role",)
    search_fields = ("name", "prefix")
    actions = ["revoke"]

    @staticmethod
    def _administered(request: HttpRequest) -> list[int] | None:
        reach = admin_reach(request)
        return None if reach.superuser else [ws for ws in reach.roles if reach.may_administer(ws)]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return within(admin.ModelAdmin.get_queryset(self, request), self._administered(request))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "workspace":
            administered = self._administered(request)
            kwargs["queryset"] = within(Workspace.objects.all(), administered, field="id")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        administered = self._administered(request)
        if administered is None:
            return True
        return bool(administered) if obj is None else obj.workspace_id in administered

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj)

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is None:
            return ["name", "workspace", "role", "expires"]
        return CHANGE_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        return [] if obj is None else CHANGE_FIELDS

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return  # keys are not edited; revoke and create a new one instead
        key, raw = api_key_create(
            name=obj.name, workspace_id=obj.workspace_id, role=Role(obj.role), expires=obj.expires
        )
        obj.pk, obj.prefix, obj.key_hash, obj.created = key.pk, key.prefix, key.key_hash, key.created
        obj._state.adding = False
        setattr(request, NEW_KEY_ATTRIBUTE, raw)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        raw = getattr(request, NEW_KEY_ATTRIBUTE, None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "key": obj,
            "raw_key": raw,
            "changelist_url": reverse("admin:access_app_apikey_changelist"),
            "title": "API key created",
        }
        response = TemplateResponse(request, "admin/access_app/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked__isnull=True):
            try:
                api_key_revoke(workspace_id=key.workspace_id, name=key.name)
                self.log_change(request, key, "Revoked from the admin.")
                revoked += 1
            except ApiKeyError as error:
                self.message_user(request, str(error), messages.WARNING)
        self.message_user(request, f"Revoked {revoked} key(s).")


class MembershipAdminBase:
    """Who manages members: a superuser everywhere, a workspace's ``admin`` in it; every
    member of a workspace sees who else is."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        reach = admin_reach(request)
        workspace_id = _workspace_of(obj)
        return reach.sees_any if workspace_id is None else reach.may_view(workspace_id)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        reach = admin_reach(request)
        workspace_id = _workspace_of(obj)
        if workspace_id is None:
            return reach.superuser or any(reach.may_administer(ws) for ws in reach.roles)
        return reach.may_administer(workspace_id)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)


def _workspace_of(obj: Any) -> int | None:
    if isinstance(obj, Workspace):
        return obj.pk
    if isinstance(obj, Membership):
        return obj.workspace_id
    return None


def _administered(request: HttpRequest) -> Any:
    reach = admin_reach(request)
    workspaces = workspaces_reached(request)
    return (
        workspaces
        if reach.superuser
        else workspaces.filter(pk__in=[ws for ws in reach.roles if reach.may_administer(ws)])
    )


@admin.register(Membership)
class MembershipAdmin(MembershipAdminBase, admin.ModelAdmin):
    """A user's role in a workspace (viewer, runner, developer, admin)."""

    list_display = ("user", "workspace", "role")
    list_filter = (WorkspaceListFilter, "role")
    list_select_related = ("user", "workspace")
    search_fields = ("user__username", "workspace__slug")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_reach(request).sees_any

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return within(super().get_queryset(request), admin_reach(request).viewable)

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> Any:
        # A membership moves by deleting it and adding another.
        return ("user", "workspace") if obj is not None else ()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "workspace":
            kwargs["queryset"] = _administered(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not admin_reach(request).superuser:
            actions.pop("delete_selected", None)
        return actions


class MembershipInline(MembershipAdminBase, admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role")


class WorkspaceAdminForm(forms.ModelForm):
    class Meta:
        model = Workspace
        fields = ["slug", "name"]
        widgets = {"name": forms.TextInput}
        help_texts = {"slug": "Lowercase letters, digits and hyphens, at most 40: the /api/workspaces/<slug>/ part."}


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    """Workspaces: superusers add and delete them (a workspace holding records is refused
    by Django's delete page, which lists what protects it); a workspace's admin renames
    it and manages its members. The ``default`` workspace keeps its slug and is never
    deleted."""

    form = WorkspaceAdminForm
    list_display = ("slug", "name", "created")
    search_fields = ("slug", "name")
    inlines = (MembershipInline,)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_reach(request).sees_any

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        return within(super().get_queryset(request), admin_reach(request).viewable, "pk")

    def has_view_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        reach = admin_reach(request)
        return reach.sees_any if obj is None else reach.may_view(obj.pk)

    def has_change_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        reach = admin_reach(request)
        if obj is None:
            return reach.superuser or any(reach.may_administer(ws) for ws in reach.roles)
        return reach.may_administer(obj.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return admin_reach(request).superuser

    def has_delete_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        return admin_reach(request).superuser and not (obj is not None and obj.is_default)

    def get_readonly_fields(self, request: HttpRequest, obj: Workspace | None = None) -> Any:
        if obj is not None and (obj.is_default or not admin_reach(request).superuser):
            return ("slug",)
        return ()
