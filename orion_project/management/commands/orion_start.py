"""``manage.py orion_start``: the API under gunicorn plus the background services.

Like ``prefect orion start``: one command starts everything a single-machine server
needs. Both run as child processes; when either stops, or on SIGTERM/SIGINT, the other
is stopped too and the command exits with the first one's status.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the API with gunicorn and run the background services."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.ORION_HOST)
        parser.add_argument("--port", type=int, default=settings.ORION_PORT)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=8, help="threads per worker")
        parser.add_argument("--no-services", action="store_true", help="Serve the API only.")

    def handle(
        self, *args: Any, host: str, port: int, workers: int, threads: int, no_services: bool, **options: Any
    ) -> None:
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        gunicorn = [
            python, "-m", "gunicorn", "orion_project.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
            "--access-logfile", "-", "--timeout", "60",
        ]  # fmt: skip
        children = [subprocess.Popen(gunicorn)]
        if not no_services:
            children.append(subprocess.Popen([python, manage, "orion_services"]))
        self.stdout.write(f"Orion on Django at http://{host}:{port} (API /api, admin /admin, docs /docs)")

        def stop(signum: int = signal.SIGTERM, frame: Any = None) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        status = None
        while status is None:
            for child in children:
                if child.poll() is not None:
                    status = child.returncode
                    break
            time.sleep(0.5)
        stop()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(status)
