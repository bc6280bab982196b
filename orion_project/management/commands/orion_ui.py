"""``manage.py orion_ui``: install the stock Prefect dashboard served at ``/``.

manage.py orion_ui install [--version 2.20.26] [--wheel PATH | --find-links DIR]
manage.py orion_ui ensure      # install when missing; a failed download only warns (make run)
manage.py orion_ui status
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orion_project.ui.install import DEFAULT_VERSION, UiInstallError, install_ui, installed_ui


class Command(BaseCommand):
    help = "Install the Prefect UI from the prefect wheel on the package index into the data directory."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # ``--version`` names the prefect release here; it replaces Django's own ``--version``.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("install", "ensure", "status"))
        parser.add_argument(
            "--version", dest="ui_version", default=DEFAULT_VERSION, help="prefect version (default %(default)s)"
        )
        parser.add_argument("--wheel", type=Path, help="use this prefect wheel instead of downloading one")
        parser.add_argument("--find-links", help="download from this directory of wheels only (no index)")

    def handle(
        self, *args: Any, action: str, ui_version: str, wheel: Path | None, find_links: str | None, **options: Any
    ) -> None:
        target = Path(settings.ORION_UI_DIR)
        current = installed_ui(target)
        if action == "status":
            self.stdout.write(
                f"Prefect UI {current['version']} at {target}" if current else f"No Prefect UI at {target}"
            )
            return
        if action == "ensure" and current is not None:
            self.stdout.write(f"Prefect UI {current['version']} is installed at {target}.")
            return
        try:
            self.install(version=ui_version, target=target, wheel=wheel, find_links=find_links)
        except UiInstallError as error:
            if action == "install":
                raise CommandError(str(error)) from error
            self.stderr.write(
                self.style.WARNING(
                    f"The Prefect UI is not installed ({error}). The server runs without it: / shows a landing "
                    f"page. Install it later with `manage.py orion_ui install --version {ui_version}`."
                )
            )

    def install(self, *, version: str, target: Path, wheel: Path | None, find_links: str | None) -> None:
        source = wheel or f"prefect=={version} from {'the index' if find_links is None else find_links}"
        self.stdout.write(f"Installing the Prefect UI ({source}) ...")
        installed = install_ui(version=version, target=target, wheel=wheel, find_links=find_links)
        self.stdout.write(
            self.style.SUCCESS(
                f"Prefect UI {installed.version}: {installed.files} files from {installed.folder} in {target}"
            )
        )
