"""The automation pages of the Django admin: the list and each document, read-only."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from tests.automations.conftest import document
from tests.helpers import ApiClient


def test_automation_admin_lists_and_shows_the_documents(api: ApiClient, client: Client) -> None:
    action = {"type": "call-webhook", "block_document_id": "11111111-1111-1111-1111-111111111111"}
    created = api.post("/automations/", document(name="nightly-alert", actions=[action])).json()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests"))
    listing = client.get("/admin/automations_app/automation/?q=nightly")
    assert listing.status_code == 200
    assert "nightly-alert" in listing.content.decode()
    page = client.get(f"/admin/automations_app/automation/{created['id']}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert created["trigger"]["id"] in text and "call-webhook" in text
    assert client.get("/admin/automations_app/automation/add/").status_code == 403
