"""``manage.py orion_check_json``: list (and with ``--repair`` cut) stored JSON values
nested deeper than the API accepts (see docs/operations.md, "JSON values")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orion_project.json_check import too_deep_json_value_cut, too_deep_json_values
from orion_project.json_values import MAX_JSON_DEPTH


class Command(BaseCommand):
    help = (
        f"List stored JSON values (parameters, state data, block data ...) nested deeper than "
        f"the {MAX_JSON_DEPTH} levels the API accepts. --repair cuts each to that depth."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="Cut every value found to the accepted depth.")

    def handle(self, *args: Any, repair: bool, **options: Any) -> None:
        found = list(too_deep_json_values())
        for value in found:
            self.stdout.write(str(value))
            if repair:
                too_deep_json_value_cut(found=value)
        verb = "cut" if repair else "found"
        self.stdout.write(f"{len(found)} JSON value(s) nested deeper than {MAX_JSON_DEPTH} levels {verb}.")
