"""Shared pieces of the automation tests: the reference's recorded answers, a small
automation document, a second workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orion_project.models import Workspace

# ``POST /automations/`` bodies and the 2.20 reference's answers to them (status, and the
# body with the ids and timestamps it generates left out), recorded against the live
# reference with events on.
REFERENCE_CREATES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "reference_creates.json").read_text()
)

DEPLOYMENT_ID = "11111111-1111-1111-1111-111111111111"


def document(**fields: Any) -> dict[str, Any]:
    """A valid automation body, with ``fields`` replaced."""
    return {"name": "auto", "trigger": {"posture": "Reactive", "expect": ["x"]}, "actions": [], **fields}


def generated_removed(value: Any) -> Any:
    """An answer without what the server generates (ids, timestamps)."""
    if isinstance(value, dict):
        return {key: generated_removed(item) for key, item in value.items() if key not in ("id", "created", "updated")}
    if isinstance(value, list):
        return [generated_removed(item) for item in value]
    return value


@pytest.fixture
def second_workspace(db: None) -> int:
    """The id of a workspace besides ``default``."""
    return Workspace.objects.create(slug="second", name="second").id
