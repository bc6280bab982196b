"""The stock 2.20 dashboard's Automations pages on this server: the list, the creation
wizard (an automation made through the UI) and an automation's page, each with a clean
network and console log."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.browser.conftest import Traffic, screenshot_dir, ui_dir
from tests.browser.seed_data import Api

pytestmark = pytest.mark.skipif(
    not (ui_dir() / "index.html").exists(), reason="no Prefect UI installed (manage.py orion_ui install)"
)


def settle(tab: Any) -> None:
    try:
        tab.wait_for_load_state("networkidle", timeout=15_000)
    except Exception:  # polling pages never go fully idle; the checks decide
        time.sleep(1)


@pytest.fixture(scope="module")
def automation(api: Api) -> dict[str, Any]:
    """An automation made through the API: when a flow run fails, cancel it."""
    return api.post(  # type: ignore[no-any-return]
        "/automations/",
        {
            "name": f"browser-automation-{uuid.uuid4().hex[:6]}",
            "description": "made for the browser suite",
            "trigger": {
                "posture": "Reactive",
                "match": {"prefect.resource.id": "prefect.flow-run.*"},
                "expect": ["prefect.flow-run.Failed"],
                "for_each": ["prefect.resource.id"],
            },
            "actions": [{"type": "cancel-flow-run"}],
        },
    )


def test_automations_list(page: tuple[Any, Traffic], automation: dict[str, Any]) -> None:
    tab, traffic = page
    tab.goto("/automations")
    tab.get_by_text(automation["name"]).first.wait_for(state="visible")
    settle(tab)
    folder = screenshot_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(folder / "prefect-automations.png"))
    assert not traffic.problems(), traffic.problems()


def test_an_automation_page(page: tuple[Any, Traffic], automation: dict[str, Any]) -> None:
    tab, traffic = page
    tab.goto(f"/automations/automation/{automation['id']}")
    tab.get_by_text(automation["name"]).first.wait_for(state="visible")
    tab.get_by_text("Cancel flow run inferred from the triggering event").first.wait_for(state="visible")
    settle(tab)
    assert not traffic.problems(), traffic.problems()


def test_the_creation_wizard_creates_an_automation(page: tuple[Any, Traffic], api: Api) -> None:
    tab, traffic = page
    name = f"wizard-made-{uuid.uuid4().hex[:6]}"
    tab.goto("/automations/create")
    settle(tab)
    tab.get_by_text("Select template").first.click()
    tab.get_by_role("option", name="Flow run state").click()
    tab.get_by_role("button", name="Next").click()
    tab.locator(".p-select").last.click()
    tab.get_by_role("option", name="Cancel a flow run").click()
    tab.get_by_role("button", name="Next").click()
    tab.get_by_label("Automation Name").fill(name)
    tab.get_by_role("button", name="Save").click()
    tab.get_by_text(name).first.wait_for(state="visible")
    settle(tab)
    made = api.post("/automations/filter", {"automations": {"name": {"any_": [name]}}})
    assert len(made) == 1
    assert made[0]["actions"] == [{"type": "cancel-flow-run"}]
    assert made[0]["trigger"]["type"] == "event"
    assert not traffic.problems(), traffic.problems()
