"""The admin in a browser (log in, open a run, act, verify through the API) and the API
docs pages loading nothing from outside."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ADMIN_PASSWORD, ADMIN_USER, Traffic, screenshot_dir
from tests.browser.seed_data import Api, Seeded


def log_in(tab: Any) -> None:
    tab.goto("/admin/login/?next=/admin/")
    tab.fill("#id_username", ADMIN_USER)
    tab.fill("#id_password", ADMIN_PASSWORD)
    tab.click("input[type=submit]")
    tab.get_by_text("Runs dashboard").first.wait_for(state="visible")


def test_admin_cancel_a_running_run(page: tuple[Any, Traffic], data: Seeded, api: Api) -> None:
    tab, traffic = page
    log_in(tab)
    tab.goto("/admin/runs_app/flowrun/?state_type__exact=RUNNING")
    tab.get_by_role("link", name=data.running_run["name"]).click()
    tab.get_by_role("heading", name="State history").wait_for(state="visible")
    assert tab.locator(".orion-summary .orion-state-running").count() == 1
    tab.get_by_role("link", name="Cancel", exact=True).click()
    tab.fill("#id_reason", "Stopped from the browser test")
    tab.get_by_role("button", name="Yes, cancel").click()
    tab.locator(".messagelist").get_by_text("The run is now").wait_for(state="visible")

    state = api.get(f"/flow_runs/{data.running_run['id']}")["state"]
    # A deployed run that is running is asked to stop (its worker finishes the cancellation).
    assert (state["type"], state["message"]) == ("CANCELLING", "Stopped from the browser test")
    assert not traffic.problems(), traffic.problems()


def test_admin_run_page_and_dashboard(page: tuple[Any, Traffic], data: Seeded) -> None:
    tab, traffic = page
    log_in(tab)
    tab.goto(f"/admin/runs_app/flowrun/{data.completed_run['id']}/change/")
    tab.get_by_text(data.log_message).wait_for(state="visible")
    assert tab.locator(".orion-log-warning").count() == 1
    tab.get_by_role("link", name=data.task_run["name"]).wait_for(state="visible")
    folder = screenshot_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(folder / "admin-run.png"), full_page=True)
    tab.goto("/admin/runs_app/flowrun/dashboard/")
    tab.get_by_text("Flow runs by state").wait_for(state="visible")
    tab.locator("a[href*='state_type__exact=FAILED']").first.click()
    tab.get_by_role("link", name=data.failed_run["name"]).wait_for(state="visible")
    assert not traffic.problems(), traffic.problems()


@pytest.mark.parametrize("path,text", [("/docs", "Orion on Django"), ("/redoc", "Orion on Django"), ("/", None)])
def test_docs_and_landing_load_nothing_from_outside(
    page: tuple[Any, Traffic], server: str, path: str, text: str | None
) -> None:
    tab, traffic = page
    tab.goto(path)
    tab.wait_for_load_state("networkidle")
    if text is not None:
        # ReDoc lays out the whole 800 kB document before it shows anything: seconds of
        # CPU, which on a shared, loaded machine has taken more than the default 20 s.
        tab.get_by_text(text).first.wait_for(state="visible", timeout=90_000)
    assert traffic.external == []
    assert not traffic.problems(), traffic.problems()
