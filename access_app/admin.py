"""Admin for API keys: create (the key is shown once, on its own page), list, revoke."""

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
from access_app.models import ApiKey, Role
from access_app.services import ApiKeyError, api_key_create, api_key_revoke

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
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created through the service; the secret is rendered once, never stored or messaged."""

    list_display = ("name", "workspace", "prefix", "role", "expires", "revoked", "last_used", "created")
    list_filter = ("workspace", "role")
    search_fields = ("name", "prefix")
    actions = ["revoke"]

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
                revoked += 1
            except ApiKeyError as error:
                self.message_user(request, str(error), messages.WARNING)
        self.message_user(request, f"Revoked {revoked} key(s).")
