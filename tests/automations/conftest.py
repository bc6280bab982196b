"""Fixtures of the automation tests."""

from __future__ import annotations

import pytest

from orion_project.models import Workspace


@pytest.fixture
def second_workspace(db: None) -> int:
    """The id of a workspace besides ``default``."""
    return Workspace.objects.create(slug="second", name="second").id
