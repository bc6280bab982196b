"""Shared fixtures: an API client that talks JSON the way the Prefect client does."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from tests.helpers import ApiClient


@pytest.fixture(autouse=True)
def _default_workspace_after_flush(request: pytest.FixtureRequest) -> None:
    """A transactional test empties every table when it ends, the row of the workspace
    ``default`` (written by a migration) too: the next one gets it back."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from orion_project.models import DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_SLUG, Workspace

    Workspace.objects.get_or_create(id=DEFAULT_WORKSPACE_ID, defaults={"slug": DEFAULT_WORKSPACE_SLUG})


@pytest.fixture
def api(db: None, client: Client) -> ApiClient:
    """The API client; every test using it gets a clean database."""
    return ApiClient(client)


# The browser suite starts a real server and Chromium: ``make browser-test`` runs it.
collect_ignore = [] if os.environ.get("ORION_BROWSER_TESTS") else ["browser"]
