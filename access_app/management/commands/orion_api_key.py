"""``manage.py orion_api_key create|list|revoke``: manage the API's keys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from access_app.models import ApiKey, Scope
from access_app.selectors import api_key_list
from access_app.services import ApiKeyError, api_key_create, api_key_revoke, parse_duration


class Command(BaseCommand):
    help = (
        "Create, list or revoke API keys. 'create' prints the new key once, alone on its last "
        "line; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a key and print it once.")
        create.add_argument("name")
        create.add_argument("--expires", help="Lifetime such as 90d, 12h, 2w (default: never).")
        create.add_argument("--scopes", choices=[scope.value for scope in Scope], default=Scope.WRITE.value)
        actions.add_parser("list", help="List keys (name, prefix, scope, dates).")
        revoke = actions.add_parser("revoke", help="Revoke a key by name.")
        revoke.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "create":
                self.create(options["name"], options["scopes"], options.get("expires"))
            elif action == "list":
                self.list()
            else:
                key = api_key_revoke(name=options["name"])
                self.stdout.write(f"Revoked {key.name} ({key.prefix}…).")
        except ApiKeyError as error:
            raise CommandError(str(error)) from None

    def create(self, name: str, scope: str, expires: str | None) -> None:
        expiry = timezone.now() + parse_duration(expires) if expires else None
        key, raw = api_key_create(name=name, scope=Scope(scope), expires=expiry)
        until = key.expires.isoformat(timespec="seconds") if key.expires else "never"
        self.stdout.write(f"Created API key {key.name!r} (scope {key.scope}, expires {until}).")
        self.stdout.write("Store it now: it is not shown again.")
        self.stdout.write(raw)

    def list(self) -> None:
        now = timezone.now()
        self.stdout.write(f"{'NAME':24} {'PREFIX':14} {'SCOPE':6} {'STATUS':8} {'EXPIRES':25} LAST USED")
        for key in api_key_list():
            self.stdout.write(
                f"{key.name:24} {key.prefix + '…':14} {key.scope:6} {status(key, now):8} "
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
