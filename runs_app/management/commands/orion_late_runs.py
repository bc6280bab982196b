"""``manage.py orion_late_runs``: mark overdue SCHEDULED runs Late, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from runs_app.background.late_runs import mark_late_runs


class Command(BaseCommand):
    help = "Give overdue SCHEDULED flow runs a SCHEDULED state named Late (one pass)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Marked {mark_late_runs()} flow run(s) late.")
