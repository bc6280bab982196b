"""``manage.py orion_start``: the API under gunicorn plus the background services.

Like ``prefect orion start``: one command starts everything a single-machine server
needs. Both run as child processes; when either stops, or on SIGTERM/SIGINT, the other
is stopped too and the command exits with the first one's status.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.ORION_WEB_WORKERS or usable_cores(),
            help="gunicorn worker processes (default ORION_WEB_WORKERS, else one per usable core)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.ORION_WEB_THREADS,
            help="threads per worker (default ORION_WEB_THREADS)",
        )
        parser.add_argument(
            "--access-log",
            action=argparse.BooleanOptionalAction,
            default=settings.ORION_ACCESS_LOG,
            help="one line per request on stdout (default ORION_ACCESS_LOG, off)",
        )
        parser.add_argument("--no-services", action="store_true", help="Serve the API only.")

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        workers: int,
        threads: int,
        access_log: bool,
        no_services: bool,
        **options: Any,
    ) -> None:
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        # Why these settings: docs/performance.md, section "Serving".
        gunicorn = [
            python, "-m", "gunicorn", "orion_project.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread", "--keep-alive", str(settings.ORION_WEB_KEEPALIVE_SECONDS),
            "--timeout", "60",
        ]  # fmt: skip
        if access_log:
            gunicorn += ["--access-logfile", "-"]
        children: list[subprocess.Popen[bytes]] = []
        names: dict[int, str] = {}
        requested: list[int] = []  # the signal that asked us to stop, if one did

        def on_signal(signum: int, frame: Any) -> None:
            requested.append(signum)
            _terminate(children)

        # Handlers first: a signal arriving while the children start must not orphan them.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        commands = {"gunicorn": gunicorn}
        if not no_services:
            commands["orion_services"] = [python, manage, "orion_services"]
        # Request metrics are per process: with several gunicorn workers, prometheus-client
        # shares them through files in this directory (made here unless one is given).
        env = dict(os.environ)
        metrics_dir = None
        if workers > 1 and not env.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="orion-metrics-")
            env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        for name, command in commands.items():
            if not requested:
                child = subprocess.Popen(command, env=env)
                children.append(child)
                names[child.pid] = name
        self.stdout.write(f"Orion on Django at http://{host}:{port} (API /api, admin /admin, docs /docs)")
        status = 0
        while not requested:
            exited = [child for child in children if child.poll() is not None]
            if exited:
                # A child stopped on its own: the server is broken, so stop the other one
                # and exit non-zero for a supervisor to see (and restart).
                status = _exit_status(exited[0].returncode) or 1
                self.stderr.write(f"{names[exited[0].pid]} exited ({exited[0].returncode}); stopping the server")
                break
            time.sleep(0.5)
        _terminate(children)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        # Stopped by SIGTERM/SIGINT: a clean shutdown, whatever the children answered (one
        # still starting up dies of the signal itself).
        sys.exit(0 if requested else status)


def usable_cores() -> int:
    """The cores this process may run on (``taskset`` narrows them), at least one."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


def _terminate(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)


def _exit_status(returncode: int) -> int:
    """A child's return code as a shell exit status (killed by signal N → 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode
