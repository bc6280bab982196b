"""``manage.py orion_scheduler``: create the upcoming runs of active deployments, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from flows_app.background.scheduler import schedule_deployments


class Command(BaseCommand):
    help = "Create the upcoming scheduled runs of every active deployment (one pass)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Deployments claimed per transaction.")

    def handle(self, *args: Any, batch_size: int | None, **options: Any) -> None:
        created = schedule_deployments(batch_size=batch_size)
        self.stdout.write(f"Scheduled {created} flow run(s).")
