"""``manage.py orion_workspace create|list|rename|delete``: the server's workspaces."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from access_app.selectors import workspace_find, workspace_list
from access_app.services.audit import audit_command
from access_app.services.workspaces import (
    WorkspaceError,
    workspace_contents,
    workspace_create,
    workspace_delete,
    workspace_rename,
)


class Command(BaseCommand):
    help = (
        "Create, list, rename or delete workspaces. A workspace's API is served under "
        "/api/workspaces/<slug>/ ('default' under /api/). 'delete' refuses while the "
        "workspace holds anything, unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a workspace.")
        create.add_argument("slug", help="[a-z0-9-]{1,40}: the workspace's URL segment.")
        create.add_argument("--name", default="", help="A display name (default: the slug).")
        actions.add_parser("list", help="List workspaces with their API path.")
        rename = actions.add_parser("rename", help="Change a workspace's slug (and name).")
        rename.add_argument("slug")
        rename.add_argument("new_slug")
        rename.add_argument("--name")
        delete = actions.add_parser("delete", help="Delete a workspace.")
        delete.add_argument("slug")
        delete.add_argument("--force", action="store_true", help="Also delete everything it holds.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            self.list()
            return
        slug = options["slug"]
        try:
            with audit_command(f"orion_workspace {action}", workspace=workspace_find(slug=slug)) as event:
                event.object_type, event.object_id = "workspace", slug
                if action == "create":
                    event.workspace = workspace_create(slug=slug, name=options["name"])
                    self.stdout.write(f"Created the workspace {slug}: its API is /api/workspaces/{slug}/.")
                elif action == "rename":
                    workspace = workspace_rename(slug=slug, new_slug=options["new_slug"], name=options["name"])
                    event.detail = f"renamed to {workspace.slug}"
                    self.stdout.write(f"Renamed the workspace {slug} to {workspace.slug}.")
                else:
                    deleted = workspace_delete(slug=slug, force=options["force"])
                    event.detail = ", ".join(f"{count} {label}" for label, count in sorted(deleted.items()))
                    self.stdout.write(f"Deleted the workspace {slug} ({event.detail or 'it was empty'}).")
        except WorkspaceError as error:
            raise CommandError(str(error)) from None

    def list(self) -> None:
        self.stdout.write(f"{'SLUG':40} {'RECORDS':>8}  {'API':48} NAME")
        for workspace in workspace_list():
            held = sum(workspace_contents(workspace_id=workspace.pk).values())
            api = "/api/" if workspace.is_default else f"/api/workspaces/{workspace.slug}/"
            self.stdout.write(f"{workspace.slug:40} {held:>8}  {api:48} {workspace.name}")
