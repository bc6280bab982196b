"""Reads of users' memberships: which workspaces a user may see, with which role
(superusers see every workspace, as admins)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from access_app.models import Membership, Role
from orion_project.models import Workspace


@dataclass(frozen=True)
class UserWorkspace:
    slug: str
    name: str
    role: Role


def workspace_role(user: Any, *, workspace_id: int) -> Role | None:
    """``user``'s role in the workspace, or ``None`` when they are not a member."""
    if not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    role = Membership.objects.filter(user_id=user.pk, workspace_id=workspace_id).values_list("role", flat=True).first()
    return None if role is None else Role(role)


def user_workspaces(user: Any) -> list[UserWorkspace]:
    """The workspaces ``user`` may open, by slug."""
    if not user.is_active:
        return []
    if user.is_superuser:
        return [UserWorkspace(w.slug, w.name, Role.ADMIN) for w in Workspace.objects.order_by("slug")]
    memberships = Membership.objects.filter(user_id=user.pk).select_related("workspace").order_by("workspace__slug")
    return [UserWorkspace(m.workspace.slug, m.workspace.name, Role(m.role)) for m in memberships]
