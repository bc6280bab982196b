"""The Django admin pages for the resources."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import FlowFactory


@pytest.fixture
def admin_client_logged_in(db: None, client: Client) -> Client:
    user = User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
    client.force_login(user)
    return client


def test_flow_changelist_lists_and_searches(admin_client_logged_in: Client) -> None:
    FlowFactory(name="etl-demo", tags=["demo", "nightly"])
    FlowFactory(name="other")
    response = admin_client_logged_in.get("/admin/flows_app/flow/?q=etl")
    assert response.status_code == 200
    page = response.content.decode()
    assert "etl-demo" in page
    assert "demo, nightly" in page
    assert "other" not in page


def test_flow_change_page_shows_read_only_ids(admin_client_logged_in: Client) -> None:
    flow = FlowFactory(name="etl-demo")
    response = admin_client_logged_in.get(f"/admin/flows_app/flow/{flow.pk}/change/")
    assert response.status_code == 200
    assert str(flow.id) in response.content.decode()


def test_admin_requires_login(client: Client, db: None) -> None:
    response = client.get("/admin/flows_app/flow/")
    assert response.status_code == 302
