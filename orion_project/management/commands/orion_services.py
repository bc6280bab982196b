"""``manage.py orion_services``: run the background services in a loop."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orion_project.registry import registered_services
from orion_project.service_loop import run_forever, run_once, stop_on_signals


class Command(BaseCommand):
    help = "Run the background services the apps register (scheduler, late runs, ...) at their intervals until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run each service once and exit.")
        parser.add_argument("--only", default="", help="Comma-separated service names to run.")

    def handle(self, *args: Any, once: bool, only: str, **options: Any) -> None:
        services = registered_services()
        if only:
            wanted = {name.strip() for name in only.split(",") if name.strip()}
            unknown = wanted - {service.name for service in services}
            if unknown:
                raise CommandError(f"Unknown service(s): {', '.join(sorted(unknown))}")
            services = [service for service in services if service.name in wanted]
        if once:
            for service in services:
                self.stdout.write(f"{service.name}: {run_once(service)}")
            return
        stop = threading.Event()
        stop_on_signals(stop)
        self.stdout.write(f"Running services: {', '.join(s.name for s in services)}")
        run_forever(services, stop)
