"""The admin login locks a username out at one address after repeated wrong passwords
(django-axes; issue #19 item 6), and never touches the API."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from tests.helpers import ApiClient, free_port
from tests.stress.harness import Server

PASSWORD = "right-password-for-tests"


@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_superuser("owner", "owner@example.com", PASSWORD)


def log_in(client: Client, password: str, username: str = "owner", **headers: Any) -> Any:
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, **headers)


def logged_in(response: Any) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def fail_until_locked(client: Client, settings: Any, **headers: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong", **headers).status_code == 200  # the form again, with its error
    assert log_in(client, "wrong", **headers).status_code == 429


def test_wrong_passwords_lock_the_right_one_out_until_reset(owner: User, client: Client, settings: Any) -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    fail_until_locked(client, settings)
    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert client.get("/admin/").status_code == 302  # not logged in
    call_command("axes_reset", verbosity=0)
    assert logged_in(log_in(client, PASSWORD))
    assert client.get("/admin/").status_code == 200


def test_the_lockout_is_per_username_and_address(owner: User, client: Client, settings: Any) -> None:
    fail_until_locked(client, settings, REMOTE_ADDR="203.0.113.9")
    assert log_in(client, PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429
    assert logged_in(log_in(Client(), PASSWORD, REMOTE_ADDR="198.51.100.7"))


def test_a_success_before_the_limit_forgets_the_failures(owner: User, client: Client, settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong")
    assert logged_in(log_in(client, PASSWORD))
    assert log_in(Client(), "wrong").status_code == 200  # counting starts again


def test_behind_the_proxy_the_client_is_the_address_the_proxy_appended(
    owner: User, client: Client, settings: Any
) -> None:
    settings.ORION_BEHIND_TLS = True
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # The first hop is whatever the client sent; the proxy appended the last one.
    fail_until_locked(client, settings, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9", **proxy)
    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="5.6.7.8, 203.0.113.9", **proxy).status_code == 429
    # Another client behind the same proxy is not locked out.
    assert logged_in(log_in(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy))


def test_the_api_is_not_behind_the_admin_lockout(owner: User, client: Client, api: ApiClient, settings: Any) -> None:
    fail_until_locked(client, settings)
    assert api.get("/health").status_code == 200
    assert api.post("/flows/", {"name": "still-served"}).status_code == 201


def browser_login(opener: urllib.request.OpenerDirector, base_url: str, password: str) -> tuple[int, str]:
    """The admin login form as a browser submits it: (status, final path)."""
    with opener.open(f"{base_url}/admin/login/?next=/admin/", timeout=30) as page:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())
    assert token is not None
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "username": "owner", "password": password}
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/admin/login/?next=/admin/", data=form, headers={"Referer": f"{base_url}/admin/login/"}
    )
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, urllib.parse.urlsplit(answer.url).path
    except urllib.error.HTTPError as error:
        return error.code, urllib.parse.urlsplit(error.url).path


@pytest.mark.slow
def test_the_lockout_holds_under_orion_start_from_the_environment(tmp_path: Path) -> None:
    server = Server(
        port=free_port(),
        workdir=tmp_path,
        extra_env={"ORION_ADMIN_LOGIN_FAILURE_LIMIT": "3", "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    try:
        server.manage("migrate", "--noinput", "-v", "0")
        server.manage("createsuperuser", "--noinput", "--username", "owner", "--email", "owner@example.com")
        server.start(services=False)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        assert [browser_login(opener, server.base_url, "wrong")[0] for _ in range(3)] == [200, 200, 429]
        assert browser_login(opener, server.base_url, PASSWORD)[0] == 429
    finally:
        server.stop()
