"""The event websockets under ``ORION_AUTH=api-key``: the HTTP API's keys, roles and
workspace door decide, through a real ``orion_start``. ``/events/in`` takes the key from
the handshake's ``Authorization`` header (what the 2.20 client would send) or from an
auth message; ``/events/out`` from its auth message. A refusal closes the socket with
``1008`` and the HTTP answer's detail as the reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from access_app.models import Role
from access_app.services.keys import api_key_create
from events_app.models import Event
from orion_project.models import DEFAULT_WORKSPACE_ID, Workspace
from tests.events import sockets as ws

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def port(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with ws.server(tmp_path_factory.mktemp("orion-data"), ORION_AUTH="api-key") as chosen:
        yield chosen


def _key(role: Role, workspace_id: int = DEFAULT_WORKSPACE_ID) -> str:
    _, raw = api_key_create(name=f"key-{role}-{workspace_id}", workspace_id=workspace_id, role=role)
    return raw


def test_events_in_without_a_key_is_closed_with_the_http_answer(port: int) -> None:
    with ws.socket(port, "/events/in") as connection:
        ws.send_json(connection, ws.event_document())
        assert ws.closed_with(connection) == (
            1008,
            "Not authenticated: send an API key as 'Authorization: Bearer <key>'.",
        )
    assert not Event.objects.exists()


def test_events_in_takes_a_runner_key_from_the_header_or_an_auth_message(port: int) -> None:
    key = _key(Role.RUNNER)
    with ws.socket(port, "/events/in", additional_headers={"Authorization": f"Bearer {key}"}) as connection:
        ws.send_json(connection, ws.event_document("test.by-header"))
        connection.ping().wait(10)
    with ws.authenticated(ws.socket(port, "/events/in"), key) as connection:
        ws.send_json(connection, ws.event_document("test.by-message"))
        connection.ping().wait(10)
    assert ws.eventually(lambda: Event.objects.count() == 2)


def test_events_in_needs_the_runner_role(port: int) -> None:
    with ws.socket(port, "/events/in") as connection:
        ws.send_json(connection, {"type": "auth", "token": _key(Role.VIEWER)})
        code, reason = ws.closed_with(connection)
    assert code == 1008
    assert reason.startswith("The API key 'key-viewer-1' has the viewer role in the workspace 'default'")
    assert reason.endswith("needs runner.")


def test_events_out_refuses_an_unknown_key_and_takes_a_viewer_key(port: int) -> None:
    with ws.subscriber(port) as connection:
        ws.send_json(connection, {"type": "auth", "token": "not-a-key"})
        assert ws.closed_with(connection) == (1008, "Invalid API key.")
    with ws.subscriber(port) as connection:
        ws.send_json(connection, {"type": "auth", "token": None})
        assert ws.closed_with(connection)[0] == 1008
    with ws.authenticated(ws.subscriber(port), _key(Role.VIEWER)) as connection:
        ws.send_json(connection, ws.live_filter())
        assert ws.nothing_more(connection, 0.5)


def test_a_key_of_another_workspace_is_refused(port: int) -> None:
    team = Workspace.objects.create(slug="team-c", name="team-c")
    with ws.subscriber(port, "/workspaces/team-c/events/out") as connection:
        ws.send_json(connection, {"type": "auth", "token": _key(Role.ADMIN)})
        assert ws.closed_with(connection) == (
            1008,
            "The API key 'key-admin-1' belongs to another workspace than 'team-c'.",
        )
    with ws.authenticated(ws.subscriber(port, "/workspaces/team-c/events/out"), _key(Role.VIEWER, team.id)):
        pass
