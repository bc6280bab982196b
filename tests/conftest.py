"""Shared fixtures: an API client that talks JSON the way the Prefect client does."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from tests.helpers import ApiClient


@pytest.fixture
def api(db: None, client: Client) -> ApiClient:
    """The API client; every test using it gets a clean database."""
    return ApiClient(client)


# The browser suite starts a real server and Chromium: ``make browser-test`` runs it.
collect_ignore = [] if os.environ.get("ORION_BROWSER_TESTS") else ["browser"]
