"""Faults of the channel layer never break decisions, and plain HTTP never uses the layer.

- Redis unreachable (a closed port) or hung (a socket that accepts and never answers): the
  decision commits and answers, the publish failure is logged and counted in
  ``broadcast.statistics``, and a client that subscribes again with ``since:`` receives the
  events it missed, then continues live.
- A GraphQL query over HTTP does not even instantiate the channel layer; a mutation only
  publishes (group_send), it never opens a listener (new_channel).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, channel_layers
from channels.testing import HttpCommunicator
from django.db import connections

from backend.asgi import application
from backend.workflows import broadcast
from backend.workflows.broadcast import attachment_group
from backend.workflows.models import WorkflowAttachment, WorkflowEvent
from backend.workflows.services import attach_workflow_to_object
from tests.support.helpers import api_token_for, approvers_of, database_id_of, make_purchase_request
from tests.support.live_servers import free_port
from tests.support.ws_helpers import connect, receive, subscribe, wait_group_joined

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = """
subscription($id: ID!, $since: ID) { attachmentEvents(attachmentId: $id, since: $since) {
  id type attachment { currentStage { nameEn } }
} }
"""
APPROVE = """
mutation($id: ID!, $form: JSON) { approveStage(input: {attachmentId: $id, formData: $form}) {
  attachment { id currentStage { nameEn } } error { code message }
} }
"""
QUERY = "query($id: ID!) { me { user { username } } workflowAttachment(id: $id) { id status events { totalCount } } }"


@pytest.fixture(autouse=True)
def _no_persistent_connections(monkeypatch):
    """Django's ASGI handler runs each HTTP request's sync code in a thread of its own; with
    CONN_MAX_AGE=0 that thread's connection is closed when the request finishes (otherwise it
    stays open and PostgreSQL cannot drop the test DB)."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)


@pytest.fixture(autouse=True)
async def _close_connections(_no_persistent_connections):
    """Close the connection of asgiref's executor thread too, or PostgreSQL cannot drop the test DB."""
    yield
    await sync_to_async(connections.close_all)()
    connections.close_all()


@pytest.fixture
def use_channel_layer(settings):
    """Switch CHANNEL_LAYERS["default"] for the test; the cached layers are dropped both ways."""
    original = settings.CHANNEL_LAYERS

    def switch(layer: dict | None) -> None:
        settings.CHANNEL_LAYERS = {"default": layer} if layer is not None else original
        channel_layers.backends = {}  # setting_changed does this too; do not depend on it

    yield switch
    channel_layers.backends = {}


def _redis_layer(port: int) -> dict:
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": f"redis://127.0.0.1:{port}/0", "socket_connect_timeout": 1}]
        },
    }


def _closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


@pytest.fixture
def silent_redis() -> Iterator[int]:
    """A TCP server that accepts connections and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for connection in accepted:
            connection.close()
        server.close()


def _setup(acme):
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )
    reviewer = next(u for u in acme.users.values() if u.username == approvers_of(attachment)[0])
    last_event = attachment.events.order_by("-pk").values_list("pk", flat=True).first()
    return attachment, reviewer, last_event


async def _post(token: str, query: str, variables: dict, timeout: float = 10.0) -> dict:
    """POST a GraphQL document through the real ASGI application (HTTP scope)."""
    communicator = HttpCommunicator(
        application,
        "POST",
        "/graphql",
        body=json.dumps({"query": query, "variables": variables}).encode(),
        headers=[
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
    )
    response = await communicator.get_response(timeout=timeout)
    # Let the handler finish too (request_finished closes the request thread's DB connection).
    await communicator.wait(timeout=timeout)
    assert response["status"] == 200, response
    return json.loads(response["body"])


async def _decide_while_layer_is_broken(acme, use_channel_layer, layer: dict, caplog) -> tuple:
    attachment, reviewer, missed_from = await sync_to_async(_setup)(acme)
    token = await sync_to_async(api_token_for)(reviewer)
    failed_before = broadcast.statistics.failed
    use_channel_layer(layer)

    with caplog.at_level(logging.ERROR, logger="backend.workflows.broadcast"):
        started = time.monotonic()
        answer = await _post(
            token, APPROVE, {"id": str(attachment.pk), "form": {"budget_code": "B-1"}}
        )
        elapsed = time.monotonic() - started

    # The decision answered, committed, and did not wait longer than the publish budget.
    assert answer["data"]["approveStage"]["error"] is None, answer
    assert (
        answer["data"]["approveStage"]["attachment"]["currentStage"]["nameEn"] == "Budget Approval"
    )
    assert elapsed < broadcast.PUBLISH_TIMEOUT_SECONDS + 2.0
    state = await sync_to_async(
        lambda: (
            WorkflowAttachment.objects.get(pk=attachment.pk).current_stage.name_en,
            list(
                WorkflowEvent.objects.filter(attachment=attachment, pk__gt=missed_from)
                .order_by("pk")
                .values_list("event_type", flat=True)
            ),
        )
    )()
    assert state == ("Budget Approval", ["approved", "stage_moved"])
    # The failure is logged and counted.
    assert broadcast.statistics.failed == failed_before + 1
    failures = [
        r
        for r in caplog.records
        if r.name == "backend.workflows.broadcast" and r.levelno == logging.ERROR
    ]
    assert (
        len(failures) == 1 and "Publishing 2 workflow event(s) failed" in failures[0].getMessage()
    )
    assert failures[0].exc_info is not None
    return attachment, missed_from


async def _resubscribe_and_catch_up(acme, attachment, missed_from: int) -> None:
    """With the layer back, ``since:`` replays the missed events, then the stream continues live."""
    token = await sync_to_async(api_token_for)(acme.user("employee"))
    client = await connect(application, token)
    assert (await receive(client))["type"] == "connection_ack"
    await subscribe(client, "1", EVENTS, {"id": str(attachment.pk), "since": str(missed_from)})
    replayed = [(await receive(client))["payload"]["data"]["attachmentEvents"] for _ in range(2)]
    assert [e["type"] for e in replayed] == ["APPROVED", "STAGE_MOVED"]
    assert replayed[1]["attachment"]["currentStage"]["nameEn"] == "Budget Approval"

    await wait_group_joined(attachment_group(attachment.pk))
    manager_token = await sync_to_async(api_token_for)(acme.user("budget_manager1"))
    answer = await _post(
        manager_token, APPROVE, {"id": str(attachment.pk), "form": {"allocated_budget": "1"}}
    )
    assert answer["data"]["approveStage"]["error"] is None, answer
    live = [(await receive(client))["payload"]["data"]["attachmentEvents"] for _ in range(2)]
    assert [e["type"] for e in live] == ["APPROVED", "STAGE_MOVED"]
    ids = [database_id_of(e["id"]) for e in replayed + live]
    assert ids == sorted(ids) and len(set(ids)) == 4 and ids[0] > missed_from
    await client.disconnect()


async def test_unreachable_redis_decision_commits_failure_counted_and_since_catches_up(
    acme, use_channel_layer, caplog
):
    attachment, missed_from = await _decide_while_layer_is_broken(
        acme, use_channel_layer, _redis_layer(_closed_port()), caplog
    )
    failure = next(r for r in caplog.records if r.name == "backend.workflows.broadcast")
    assert "ConnectionError" in repr(failure.exc_info[1]) or "Connect" in str(failure.exc_info[1])

    use_channel_layer(None)  # Redis is back
    await _resubscribe_and_catch_up(acme, attachment, missed_from)


async def test_hung_redis_decision_answers_within_the_publish_budget(
    acme, use_channel_layer, caplog, silent_redis, monkeypatch
):
    monkeypatch.setattr(broadcast, "PUBLISH_TIMEOUT_SECONDS", 0.3)
    attachment, missed_from = await _decide_while_layer_is_broken(
        acme, use_channel_layer, _redis_layer(silent_redis), caplog
    )
    failure = next(r for r in caplog.records if r.name == "backend.workflows.broadcast")
    assert isinstance(failure.exc_info[1], TimeoutError)

    use_channel_layer(None)
    await _resubscribe_and_catch_up(acme, attachment, missed_from)


class CountingLayer(InMemoryChannelLayer):
    """The in-memory layer, counting instances and calls (for the HTTP test below)."""

    calls: Counter = Counter()

    def __init__(self, *args, **kwargs):
        CountingLayer.calls["instances"] += 1
        super().__init__(*args, **kwargs)

    async def new_channel(self, prefix="specific."):
        CountingLayer.calls["new_channel"] += 1
        return await super().new_channel(prefix)

    async def group_send(self, group, message):
        CountingLayer.calls["group_send"] += 1
        return await super().group_send(group, message)


async def test_plain_http_requests_do_not_listen_on_the_channel_layer(acme, use_channel_layer):
    attachment, reviewer, _ = await sync_to_async(_setup)(acme)
    token = await sync_to_async(api_token_for)(reviewer)
    use_channel_layer({"BACKEND": f"{__name__}.CountingLayer"})
    CountingLayer.calls.clear()

    answer = await _post(token, QUERY, {"id": str(attachment.pk)})
    assert answer["data"]["workflowAttachment"]["status"] == "IN_PROGRESS", answer
    assert CountingLayer.calls == Counter(), "a query must not even instantiate the channel layer"

    answer = await _post(token, APPROVE, {"id": str(attachment.pk), "form": {"budget_code": "B-1"}})
    assert answer["data"]["approveStage"]["error"] is None, answer
    assert CountingLayer.calls["new_channel"] == 0  # no listener for the HTTP request
    assert CountingLayer.calls["group_send"] > 0  # the decision's events were published

    # Control: a websocket connection does open a channel.
    client = await connect(application, token)
    assert (await receive(client))["type"] == "connection_ack"
    assert CountingLayer.calls["new_channel"] == 1
    await client.disconnect()
