"""Behaviour every API route shares: health, version header, error shapes, CORS, slashes."""

from __future__ import annotations

from typing import Any

import pytest

from orion_project.ui.install import DEFAULT_VERSION
from tests.helpers import ApiClient


def test_health_is_true_and_ignores_the_version_header(api: ApiClient) -> None:
    # reference examples #54 and #57
    response = api.get("/health", HTTP_X_PREFECT_API_VERSION="banana")
    assert response.status_code == 200
    assert response.json() is True


def test_hello(api: ApiClient) -> None:
    response = api.get("/hello")
    assert (response.status_code, response.json()) == (200, "👋")


def test_admin_version_reports_the_version_of_the_dashboard_shipped(api: ApiClient) -> None:
    # The 2.20 server's version: the route set served and the UI installed by default, so
    # the dashboard's Settings page shows the version of the dashboard it is.
    response = api.get("/admin/version")
    assert (response.status_code, response.json()) == (200, DEFAULT_VERSION)
    assert DEFAULT_VERSION.startswith("2.20.")


def test_api_version_route(api: ApiClient) -> None:
    assert api.get("/version").json() == "0.8.4"


@pytest.mark.parametrize(
    ("header", "status", "detail"),
    [
        ("0.8.4", 200, None),
        ("0.8.0", 200, None),
        ("1.0.0", 200, None),
        (
            "0.7.0",
            400,
            "The request specified API version 0.7.0 but this server requires version 0.8.0 or higher.",
        ),
        (
            "banana",
            400,
            "Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received banana",
        ),
        (
            "0.8",
            400,
            "Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received 0.8",
        ),
    ],
)
def test_api_version_header_is_checked_on_router_routes(
    api: ApiClient, header: str, status: int, detail: str | None
) -> None:
    # reference examples #19 and #58
    response = api.get("/admin/version", HTTP_X_PREFECT_API_VERSION=header)
    assert response.status_code == status
    if detail is not None:
        assert response.json() == {"detail": detail}


def test_missing_version_header_is_treated_as_latest(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/admin/version")
    assert response.status_code == 200


def test_csrf_token_tells_the_2_20_client_protection_is_disabled(api: ApiClient) -> None:
    response = api.get("/csrf-token?client=0b3b6a8e-0000-4000-8000-000000000000")
    assert response.status_code == 422
    assert "CSRF protection is disabled." in response.content.decode()


def test_writes_need_no_csrf_token_even_with_a_session_cookie(api: ApiClient) -> None:
    api.client.cookies["sessionid"] = "whatever"
    api.client.cookies["csrftoken"] = "x" * 32
    response = api.post("/flows/", {"name": "no-csrf"})
    assert response.status_code == 201


def test_unknown_path_is_404_not_found(api: ApiClient) -> None:
    response = api.get("/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


def test_wrong_method_is_405(api: ApiClient) -> None:
    response = api.get("/flows/filter")
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})


def test_missing_trailing_slash_is_not_redirected(api: ApiClient) -> None:
    # The stock client never follows redirects: routes match exactly.
    response = api.post("/flows", {"name": "x"})
    assert response.status_code == 404
    assert "Location" not in response


def test_invalid_json_body_is_a_422_in_the_validation_shape(api: ApiClient) -> None:
    response = api.post("/flows/filter", raw="{bad")
    assert response.status_code == 422
    body = response.json()
    assert body["exception_message"] == "Invalid request received."
    assert body["exception_detail"][0]["type"] == "value_error.jsondecode"
    assert body["request_body"] == "{bad"  # the reference echoes the text it could not read


def test_non_object_body_is_a_422(api: ApiClient) -> None:
    response = api.post("/flows/filter", [])
    assert response.status_code == 422
    assert response.json()["exception_detail"] == [
        {"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}
    ]


def test_cors_preflight_allows_configured_origins_only(api: ApiClient, settings: Any) -> None:
    """Unlike the reference (every origin), only ORION_CORS_ORIGINS (issue 11; tests/access/)."""
    settings.CORS_ALLOWED_ORIGINS = ["http://example.com"]
    response = api.request(
        "options",
        "/flows/filter",
        HTTP_ORIGIN="http://example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-prefect-api-version",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://example.com"
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = response["Access-Control-Allow-Headers"].lower()
    assert allowed == "*" or "x-prefect-api-version" in allowed
    other = api.request(
        "options", "/flows/filter", HTTP_ORIGIN="http://other.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in other


def test_cors_simple_request_carries_the_allow_origin_header(api: ApiClient, settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["http://example.com"]
    response = api.get("/hello", HTTP_ORIGIN="http://example.com")
    assert response["Access-Control-Allow-Origin"] == "http://example.com"
    assert api.get("/hello", HTTP_ORIGIN="http://other.example").status_code == 403


def test_ready_reports_the_database(api: ApiClient) -> None:
    assert api.get("/ready").json() == {"message": "OK"}


def test_docs_pages_are_served(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
@pytest.mark.parametrize(
    "path",
    [
        "/flows/filter",
        "/flows/count",
        "/flow_runs/filter",
        "/flow_runs/count",
        "/flow_runs/history",
        "/task_runs/filter",
        "/task_runs/history",
        "/deployments/filter",
        "/work_queues/filter",
        "/block_documents/filter",
        "/logs/filter",
        "/artifacts/filter",
        "/variables/filter",
    ],
)
def test_static_action_paths_win_over_ids(api: ApiClient, method: str, path: str) -> None:
    # Issue #13 A.7: a static action path is never read as an {id}; a method it does not
    # serve is 405. (The live 2.7.12 and 2.20 servers fall through to {id} and answer 422
    # "value is not a valid uuid"; the issue chose 405, and this test holds that choice.)
    response = api.request(method, path)
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})


def test_cors_headers_with_and_without_an_origin(api: ApiClient, settings: Any) -> None:
    """A request without ``Origin`` (every Prefect client) is told only that answers vary
    by it, as django-cors-headers tells it; a browser's gets the allow header too."""
    settings.CORS_ALLOWED_ORIGINS = ["http://example.com"]
    plain = api.get("/hello")
    assert plain["Vary"] == "origin"
    assert "Access-Control-Allow-Origin" not in plain
    assert api.get("/hello", HTTP_ORIGIN="")["Vary"] == "origin"
    browser = api.get("/hello", HTTP_ORIGIN="http://example.com")
    assert browser["Vary"] == "origin"
    assert browser["Access-Control-Allow-Origin"] == "http://example.com"
