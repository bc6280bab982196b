"""``manage.py orion_audit [--workspace SLUG] [--since 1d]``: read the audit trail."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from access_app.selectors import audit_event_list
from access_app.services.keys import ApiKeyError, parse_duration


class Command(BaseCommand):
    help = "Print the audit trail, newest first: writes through the API, the admin and commands, and refused attempts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="Only this workspace's events (a deleted one's too).")
        parser.add_argument("--since", help="Only events of the last 90d, 12h, 30m, ... (default: all).")
        parser.add_argument("--limit", type=int, default=1000, help="At most this many events (default 1000).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            since = timezone.now() - parse_duration(options["since"]) if options["since"] else None
        except ApiKeyError as error:
            raise CommandError(str(error)) from None
        events = audit_event_list(workspace_slug=options["workspace"], since=since)[: max(options["limit"], 0)]
        self.stdout.write(f"{'WHEN':25} {'WORKSPACE':16} {'CHANNEL':8} {'WHO':20} {'OUTCOME':12} WHAT")
        for event in events:
            outcome = f"{event.outcome} {event.status_code or ''}".strip()
            what = f"{event.action} {event.object_id}".strip()
            if event.detail:
                what = f"{what} ({event.detail})"
            self.stdout.write(
                f"{event.at.isoformat(timespec='seconds'):25} {event.workspace_slug or '-':16} "
                f"{event.channel:8} {event.actor or '-':20} {outcome:12} {what}"
            )
