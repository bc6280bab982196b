"""Two API replicas (two ``orion_start`` processes) on one database stay one system: a
subscriber on one replica's ``/events/out`` receives what is sent to the other's
``/events/in``, in the order it was recorded, with nothing in between them but the
database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.events import sockets as ws

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def replicas(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    with (
        ws.server(tmp_path_factory.mktemp("orion-a")) as first,
        ws.server(tmp_path_factory.mktemp("orion-b")) as second,
    ):
        yield first, second


def test_a_subscriber_on_one_replica_receives_what_the_other_records(replicas: tuple[int, int]) -> None:
    first, second = replicas
    with ws.authenticated(ws.subscriber(first)) as watching:
        ws.send_json(watching, ws.live_filter(event={"prefix": ["replica."]}))
        assert ws.nothing_more(watching, 0.5)
        sent = [ws.event_document(f"replica.{index}") for index in range(20)]
        with ws.socket(second, "/events/in") as writer:
            for document in sent:
                ws.send_json(writer, document)
            writer.ping().wait(10)
        received = ws.received_events(watching, len(sent))
        assert [event["id"] for event in received] == [document["id"] for document in sent]
        assert ws.nothing_more(watching)
