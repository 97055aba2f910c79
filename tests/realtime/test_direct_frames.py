"""Shared events written to the socket by the process's listener task (``schema.execution.fanout``
sinks and ``schema.execution.socket_writer``), as uvicorn's sockets get them in production.

Under channels' communicator there is no uvicorn socket: ``write_frames_directly`` puts a
writer in its place that decodes each frame and hands it to the communicator. The frames
must be byte for byte what strawberry sends through ASGI (only the operation id differs),
written from the listener task (no subscription task wakes up), to the subscribers of the
event's company only, and in order when events are missing before one.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from backend.asgi import application
from backend.workflows import broadcast
from backend.workflows.broadcast import attachment_group
from schema.execution import event_sharing, fanout
from tests.support.helpers import (
    api_token_for,
    attached_request_with_reviewer,
)
from tests.support.ws_helpers import (
    approve_in_thread,
    connect,
    receive,
    subscribe,
    write_frames_directly,
)

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = """
subscription($id: ID!) { attachmentEvents(attachmentId: $id) {
  id type actor { username displayName } fromStage { nameEn } toStage { nameEn }
  attachment { id status currentStage { nameEn } progress { percentage completedStages totalStages } }
} }
"""
VIA_ASGI = b"x-test-via-asgi"


@pytest.fixture(autouse=True)
async def _close_connections():
    """Close the connection of asgiref's executor thread too, or PostgreSQL cannot drop the test DB."""
    yield
    await sync_to_async(connections.close_all)()
    connections.close_all()


async def _client(user, headers=None):
    token = await sync_to_async(api_token_for)(user)
    client = await connect(application, token, headers=headers)
    assert (await receive(client))["type"] == "connection_ack"
    return client


async def _wait_listening(group, count, timeout=5.0):
    """Wait until ``count`` subscriptions of ``group`` wait for a message with a sink set."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        hub = fanout._hubs.get(asyncio.get_running_loop())
        listeners = hub.queues.get(group, ()) if hub is not None else ()
        if sum(1 for listener in listeners if listener.idle()) >= count:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{count} listeners of {group}"
        await asyncio.sleep(0.02)


async def test_frames_written_by_the_listener_task_are_what_strawberry_sends(acme, monkeypatch):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    writes = write_frames_directly(monkeypatch, unless_header=VIA_ASGI)
    event_sharing.clear_shared_results()
    employee = acme.user("employee")
    via_asgi = await _client(employee, headers=[(VIA_ASGI, b"1")])
    await subscribe(via_asgi, "asgi", EVENTS, {"id": str(attachment.pk)})
    direct = [await _client(employee) for _ in range(3)]
    for number, client in enumerate(direct):
        await subscribe(client, f"op-{number}", EVENTS, {"id": str(attachment.pk)})
    group = attachment_group(attachment.pk)
    await _wait_listening(group, 4)

    await approve_in_thread(request, reviewer)
    expected = [await via_asgi.receive_from(timeout=5) for _ in range(2)]
    for number, client in enumerate(direct):
        frames = [await client.receive_from(timeout=5) for _ in range(2)]
        assert [re.sub(r'^\{"id":"op-\d"', '{"id":"asgi"', f) for f in frames] == expected
        assert [json.loads(f)["id"] for f in frames] == [f"op-{number}"] * 2
    types = [json.loads(f)["payload"]["data"]["attachmentEvents"]["type"] for f in expected]
    assert types == ["APPROVED", "STAGE_MOVED"]
    # Every frame of the three was written by the process's listener task, none by the
    # subscriptions' own tasks (which did not wake up).
    hub = fanout._hubs[asyncio.get_running_loop()]
    assert len(writes) == 6
    assert {task for task, _ in writes} == {hub.tasks[0]}
    for client in [via_asgi, *direct]:
        assert await client.receive_nothing(timeout=0.2)
        await client.disconnect()


async def test_a_subscriber_of_another_company_gets_no_frame(acme, globex, monkeypatch):
    """A message in the group that names another company is never written to the socket."""
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    writes = write_frames_directly(monkeypatch)
    sent = []
    real_messages = broadcast._messages

    def keep(events):
        messages = real_messages(events)
        sent.extend(messages)
        return messages

    monkeypatch.setattr(broadcast, "_messages", keep)
    client = await _client(acme.user("employee"))
    await subscribe(client, "1", EVENTS, {"id": str(attachment.pk)})
    group = attachment_group(attachment.pk)
    await _wait_listening(group, 1)

    await approve_in_thread(request, reviewer)
    assert [(await receive(client))["payload"]["data"]["attachmentEvents"]["type"] for _ in "ab"]
    assert len(writes) == 2
    # The last event again, newer, but of another company: not this subscriber's.
    message = [m for g, m in sent if g == group][-1]
    event = {**message["event"], "previous_id": None, "company_id": globex.company.pk}
    event["id"] += 1000
    await get_channel_layer().group_send(group, {**message, "event": event})
    assert await client.receive_nothing(timeout=0.5)
    assert len(writes) == 2
    await client.disconnect()


async def test_events_missing_before_a_message_are_read_first_and_sent_in_order(acme, monkeypatch):
    """The first event's message is lost: the second names it as its previous event, so the
    listener task leaves the second to the subscription, which reads the first from the audit
    trail and sends both in commit order."""
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    writes = write_frames_directly(monkeypatch)
    real_messages = broadcast._messages

    def lose_the_first(events):
        messages = real_messages(events)
        first = next(i for i, (g, _) in enumerate(messages) if g == attachment_group(attachment.pk))
        return messages[:first] + messages[first + 1 :]

    monkeypatch.setattr(broadcast, "_messages", lose_the_first)
    client = await _client(acme.user("employee"))
    await subscribe(client, "1", EVENTS, {"id": str(attachment.pk)})
    await _wait_listening(attachment_group(attachment.pk), 1)

    await approve_in_thread(request, reviewer)
    types = [(await receive(client))["payload"]["data"]["attachmentEvents"]["type"] for _ in "ab"]
    assert types == ["APPROVED", "STAGE_MOVED"]
    assert writes == []  # both went through the subscription's own task
    assert await client.receive_nothing(timeout=0.3)
    await client.disconnect()
