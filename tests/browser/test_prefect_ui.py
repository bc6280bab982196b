"""Walk the stock Prefect 2.20 dashboard served by this server, on real data: each page
shows the data and leaves a clean network and console log."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import Traffic, screenshot_dir, ui_dir
from tests.browser.seed_data import Api, Seeded

pytestmark = pytest.mark.skipif(
    not (ui_dir() / "index.html").exists(), reason="no Prefect UI installed (manage.py orion_ui install)"
)

# (page, url from the seeded data, the tab to open there, texts the page must show). A tab
# is clicked rather than named in the URL: the run page hides its run tabs until the run
# has loaded and then falls back to "Logs", so ``?tab=`` alone races the page's own fetch.
Page = tuple[str, Callable[[Seeded], str], str | None, Callable[[Seeded], list[str]]]
PAGES: list[Page] = [
    ("dashboard", lambda d: "/dashboard", None, lambda d: ["Dashboard", "Flow Runs"]),
    ("flow runs", lambda d: "/flow-runs", None, lambda d: [d.completed_run["name"], d.failed_run["name"]]),
    (
        "flow runs filtered by flow",
        lambda d: f"/flows/flow/{d.flow['id']}",
        None,
        lambda d: [d.flow["name"], d.failed_run["name"]],
    ),
    (
        "flow run graph",
        lambda d: f"/flow-runs/flow-run/{d.completed_run['id']}",
        None,
        lambda d: [d.completed_run["name"], "Completed"],
    ),
    ("flow run logs", lambda d: f"/flow-runs/flow-run/{d.completed_run['id']}", "Logs", lambda d: [d.log_message]),
    (
        "flow run task runs",
        lambda d: f"/flow-runs/flow-run/{d.completed_run['id']}",
        "Task Runs",
        lambda d: [d.task_run["name"]],
    ),
    (
        "flow run sub-flow runs",
        lambda d: f"/flow-runs/flow-run/{d.completed_run['id']}",
        "Subflow Runs",
        lambda d: [d.subflow_run["name"]],
    ),
    (
        "flow run artifacts",
        lambda d: f"/flow-runs/flow-run/{d.completed_run['id']}",
        "Artifacts",
        lambda d: [d.artifact],
    ),
    (
        "flow run parameters",
        lambda d: f"/flow-runs/flow-run/{d.completed_run['id']}",
        "Parameters",
        lambda d: ["limit", "500"],
    ),
    (
        "task run",
        lambda d: f"/task-runs/task-run/{d.task_run['id']}",
        None,
        lambda d: [d.task_run["name"], "Completed"],
    ),
    ("flows", lambda d: "/flows", None, lambda d: [d.flow["name"]]),
    ("deployments", lambda d: "/deployments", None, lambda d: [d.deployment["name"]]),
    (
        "deployment",
        lambda d: f"/deployments/deployment/{d.deployment['id']}",
        None,
        lambda d: [d.deployment["name"], d.completed_run["name"]],
    ),
    ("work pools", lambda d: "/work-pools", None, lambda d: ["default-agent-pool"]),
    (
        "work pool queues",
        lambda d: "/work-pools/work-pool/default-agent-pool",
        "Work Queues",
        lambda d: ["default"],
    ),
    ("blocks", lambda d: "/blocks", None, lambda d: [d.block_name]),
    ("variables", lambda d: "/variables", None, lambda d: [d.variable, "analytics"]),
    ("artifacts", lambda d: "/artifacts", None, lambda d: [d.artifact]),
    ("global concurrency limits", lambda d: "/concurrency-limits", "Global", lambda d: [d.global_limit]),
    ("task run concurrency limits", lambda d: "/concurrency-limits", "Task Run", lambda d: [d.concurrency_tag]),
    ("notifications", lambda d: "/notifications", None, lambda d: ["Notifications"]),
]


def settle(tab: Any) -> None:
    """Wait until the page's API calls are done (the UI polls, so not for ever)."""
    try:
        tab.wait_for_load_state("networkidle", timeout=15_000)
    except Exception:  # polling pages never go fully idle; the text checks decide
        time.sleep(1)


@pytest.mark.parametrize("name,url,open_tab,texts", PAGES, ids=[name for name, *_ in PAGES])
def test_dashboard_page(
    page: tuple[Any, Traffic],
    data: Seeded,
    name: str,
    url: Callable[[Seeded], str],
    open_tab: str | None,
    texts: Callable[[Seeded], list[str]],
) -> None:
    tab, traffic = page
    tab.goto(url(data))
    settle(tab)
    if open_tab is not None:
        tab.locator("li.p-tab", has_text=open_tab).first.click()
        settle(tab)
    missing = []
    for text in texts(data):
        try:
            tab.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=15_000)
        except Exception:
            missing.append(text)
    settle(tab)
    folder = screenshot_dir()
    if folder is not None and name == "dashboard":
        folder.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(folder / "prefect-dashboard.png"))
    if folder is not None and name == "flow run graph":
        tab.screenshot(path=str(folder / "prefect-flow-run.png"))
    problems = [f"missing text {text!r}" for text in missing] + traffic.problems()
    assert not problems, f"{name} ({url(data)}):\n  " + "\n  ".join(problems)


def test_the_run_link_the_client_prints_opens_the_run(page: tuple[Any, Traffic], data: Seeded) -> None:
    """``View at http://127.0.0.1:4200/flow-runs/flow-run/<id>``: a deep link, loaded fresh."""
    tab, _traffic = page
    response = tab.goto(f"/flow-runs/flow-run/{data.failed_run['id']}")
    assert response is not None and response.status == 200
    tab.get_by_text(data.failed_run["name"]).first.wait_for(state="visible")
    tab.get_by_text("Failed").first.wait_for(state="visible")


def test_quick_run_of_a_deployment_creates_a_run(page: tuple[Any, Traffic], data: Seeded, api: Api) -> None:
    tab, traffic = page
    before = api.post("/flow_runs/count", {"deployments": {"id": {"any_": [data.deployment["id"]]}}})
    tab.goto(f"/deployments/deployment/{data.deployment['id']}")
    tab.get_by_role("button", name="Run", exact=True).click()
    tab.get_by_text("Quick run", exact=True).first.click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        after = api.post("/flow_runs/count", {"deployments": {"id": {"any_": [data.deployment["id"]]}}})
        if after == before + 1:
            break
        time.sleep(0.5)
    assert after == before + 1
    settle(tab)
    assert not traffic.problems(), traffic.problems()


def test_flow_runs_search_filters_the_list(page: tuple[Any, Traffic], data: Seeded) -> None:
    """The flow runs page's name filter (a ``like_`` on ``/flow_runs/filter``)."""
    tab, traffic = page
    tab.goto("/flow-runs")
    tab.get_by_text(data.completed_run["name"]).first.wait_for(state="visible")
    tab.get_by_placeholder("Search by run name").fill(data.failed_run["name"][:5])
    tab.get_by_text(data.completed_run["name"]).first.wait_for(state="detached")
    tab.get_by_text(data.failed_run["name"]).first.wait_for(state="visible")
    settle(tab)
    assert not traffic.problems(), traffic.problems()
