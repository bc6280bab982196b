"""``manage.py orion_api_key create|list|revoke``: manage the API keys of a workspace."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from access_app.models import SCOPE_ROLES, ApiKey, Role, Scope
from access_app.selectors import api_key_list, workspace_find
from access_app.services.audit import audit_command
from access_app.services.keys import ApiKeyError, api_key_create, api_key_revoke, parse_duration
from orion_project.models import DEFAULT_WORKSPACE_SLUG, Workspace


class Command(BaseCommand):
    help = (
        "Create, list or revoke the API keys of a workspace (default: 'default'). 'create' "
        "prints the new key once, alone on its last line; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a key and print it once.")
        create.add_argument("name")
        create.add_argument("--workspace", help="The workspace's slug (default: default).")
        create.add_argument("--expires", help="Lifetime such as 90d, 12h, 2w (default: never).")
        given = create.add_mutually_exclusive_group()
        given.add_argument("--role", choices=[role.value for role in Role], help="Default: developer.")
        given.add_argument(
            "--scopes",
            choices=[scope.value for scope in Scope],
            help="The scopes of keys before roles: read, write, admin = viewer, developer, admin.",
        )
        listing = actions.add_parser("list", help="List a workspace's keys (name, prefix, role, dates).")
        listing.add_argument("--workspace", help="The workspace's slug (default: default).")
        revoke = actions.add_parser("revoke", help="Revoke a key by name.")
        revoke.add_argument("name")
        revoke.add_argument("--workspace", help="The workspace's slug (default: default).")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        workspace = self.workspace(options.get("workspace") or DEFAULT_WORKSPACE_SLUG)
        if action == "list":
            self.list(workspace)
            return
        try:
            with audit_command(f"orion_api_key {action}", workspace=workspace) as event:
                event.object_type, event.object_id = "apikey", options["name"]
                if action == "create":
                    role = Role(options["role"]) if options.get("role") else None
                    if options.get("scopes"):
                        role = SCOPE_ROLES[Scope(options["scopes"])]
                    self.create(options["name"], workspace, role or Role.DEVELOPER, options.get("expires"))
                else:
                    key = api_key_revoke(workspace_id=workspace.pk, name=options["name"])
                    self.stdout.write(f"Revoked {key.name} ({key.prefix}…) of the workspace {workspace.slug}.")
        except ApiKeyError as error:
            raise CommandError(str(error)) from None

    @staticmethod
    def workspace(slug: str) -> Workspace:
        workspace = workspace_find(slug=slug)
        if workspace is None:
            raise CommandError(f"No workspace {slug!r} (see 'manage.py orion_workspace list').")
        return workspace

    def create(self, name: str, workspace: Workspace, role: Role, expires: str | None) -> None:
        expiry = timezone.now() + parse_duration(expires) if expires else None
        key, raw = api_key_create(name=name, workspace_id=workspace.pk, role=role, expires=expiry)
        until = key.expires.isoformat(timespec="seconds") if key.expires else "never"
        self.stdout.write(
            f"Created API key {key.name!r} (workspace {workspace.slug}, role {key.role}, expires {until})."
        )
        self.stdout.write("Store it now: it is not shown again.")
        self.stdout.write(raw)

    def list(self, workspace: Workspace) -> None:
        now = timezone.now()
        self.stdout.write(f"{'NAME':24} {'PREFIX':14} {'ROLE':9} {'STATUS':8} {'EXPIRES':25} LAST USED")
        for key in api_key_list(workspace_id=workspace.pk):
            self.stdout.write(
                f"{key.name:24} {key.prefix + '…':14} {key.role:9} {status(key, now):8} "
                f"{stamp(key.expires):25} {stamp(key.last_used)}"
            )


def status(key: ApiKey, now: Any) -> str:
    if key.revoked is not None:
        return "revoked"
    if key.expires is not None and key.expires <= now:
        return "expired"
    return "active"


def stamp(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value else "-"
