"""Fan-out internals: one listener per process, one rendering per event and document.

- Several subscriptions of one process share one channel-layer group membership
  (``schema.event_sharing.fanout``); the last one to leave leaves the group.
- A pushed event is executed once per document; the other subscribers get the same frame
  through ``FastPath``, byte for byte what strawberry sends (only the operation id differs).
  Documents that render differently (variables in the selection) are not mixed up.
- A subscription without ``since:`` does not lose an event committed while it joins.
- A message that does not name its group (older publisher) still reaches its subscribers,
  without duplicates.
- The shared membership is refreshed (channel layers expire group memberships).
"""

from __future__ import annotations

import json
import re
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from backend.asgi import application
from backend.workflows import broadcast
from backend.workflows.broadcast import attachment_group, workflow_group
from schema.execution import event_sharing, fanout
from tests.support.helpers import (
    api_token_for,
    attached_request_with_reviewer,
)
from tests.support.ws_helpers import (
    approve_in_thread,
    connect,
    group_size,
    receive,
    subscribe,
    wait_group_joined,
)

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = """
subscription($id: ID!, $since: ID) { attachmentEvents(attachmentId: $id, since: $since) {
  id type actor { username displayName } fromStage { nameEn } toStage { nameEn }
  attachment { id status currentStage { nameEn } progress { percentage completedStages totalStages } }
} }
"""
WITH_ACTOR = """
subscription($id: ID!, $withActor: Boolean!) { attachmentEvents(attachmentId: $id) {
  id type actor @include(if: $withActor) { username }
} }
"""
WORKFLOW_EVENTS = "subscription($id: ID!) { workflowEvents(workflowId: $id) { id type } }"


@pytest.fixture(autouse=True)
async def _close_connections():
    """Close the connection of asgiref's executor thread too, or PostgreSQL cannot drop the test DB."""
    yield
    await sync_to_async(connections.close_all)()
    connections.close_all()


async def _clients(acme, count):
    token = await sync_to_async(api_token_for)(acme.user("employee"))
    clients = []
    for _ in range(count):
        client = await connect(application, token)
        assert (await receive(client))["type"] == "connection_ack"
        clients.append(client)
    return clients


async def _wait_local_listeners(group, count, timeout=5.0):
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while fanout.local_listeners(group) < count:
        assert asyncio.get_running_loop().time() < deadline, (
            f"{count} listeners of {group} expected"
        )
        await asyncio.sleep(0.02)


async def test_subscriptions_of_a_process_share_one_group_membership(acme):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    group = attachment_group(attachment.pk)
    clients = await _clients(acme, 3)
    for client in clients:
        await subscribe(client, "1", EVENTS, {"id": str(attachment.pk)})
    await _wait_local_listeners(group, 3)
    await wait_group_joined(group)
    assert await group_size(group) == 1  # one membership for the process, not one per socket

    await approve_in_thread(request, reviewer)
    for client in clients:
        types = [
            (await receive(client))["payload"]["data"]["attachmentEvents"]["type"] for _ in range(2)
        ]
        assert types == ["APPROVED", "STAGE_MOVED"]

    for client in clients:
        await client.disconnect()
    await _wait_local_listeners_gone(group)
    assert await group_size(group) == 0


async def _wait_local_listeners_gone(group, timeout=5.0):
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while fanout.local_listeners(group) or await group_size(group):
        assert asyncio.get_running_loop().time() < deadline, f"{group} still has listeners"
        await asyncio.sleep(0.02)


async def test_shared_frames_are_what_strawberry_sends(acme, monkeypatch):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    sent_directly = []
    original_send = event_sharing.FastPath.send

    async def counting_send(self, event):
        done = await original_send(self, event)
        sent_directly.append(done)
        return done

    monkeypatch.setattr(event_sharing.FastPath, "send", counting_send)
    event_sharing.clear_shared_results()
    clients = await _clients(acme, 3)
    for number, client in enumerate(clients):
        await subscribe(client, f"op-{number}", EVENTS, {"id": str(attachment.pk)})
    await _wait_local_listeners(attachment_group(attachment.pk), 3)

    await approve_in_thread(request, reviewer)
    frames = [[await client.receive_from(timeout=5) for _ in range(2)] for client in clients]
    # One subscriber rendered each event through strawberry, the others got its frame.
    assert sent_directly.count(True) == 4 and sent_directly.count(False) == 2
    normalized = [[re.sub(r'^\{"id":"op-\d"', '{"id":"op"', f) for f in pair] for pair in frames]
    assert normalized[0] == normalized[1] == normalized[2]
    for number, pair in enumerate(frames):
        assert [json.loads(f)["id"] for f in pair] == [f"op-{number}"] * 2
    event = json.loads(frames[2][1])["payload"]["data"]["attachmentEvents"]
    assert event["type"] == "STAGE_MOVED" and event["attachment"]["currentStage"] == {
        "nameEn": "Budget Approval"
    }
    for client in clients:
        await client.disconnect()


async def test_documents_that_render_differently_are_not_shared(acme):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    event_sharing.clear_shared_results()
    clients = await _clients(acme, 3)
    variables = [True, False, True]
    for client, with_actor in zip(clients, variables, strict=True):
        await subscribe(
            client, "1", WITH_ACTOR, {"id": str(attachment.pk), "withActor": with_actor}
        )
    await _wait_local_listeners(attachment_group(attachment.pk), 3)

    await approve_in_thread(request, reviewer)
    for client, with_actor in zip(clients, variables, strict=True):
        approved = (await receive(client))["payload"]["data"]["attachmentEvents"]
        await receive(client)
        assert ("actor" in approved) is with_actor
        if with_actor:
            assert approved["actor"] == {"username": reviewer.username}
    for client in clients:
        await client.disconnect()


async def test_event_committed_while_subscribing_is_not_lost(acme, monkeypatch):
    """The decision commits right after the group is joined, before the subscription has
    looked at the audit trail: the events arrive anyway, once each."""
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    real_listen = fanout.listen

    @asynccontextmanager
    async def listen_then_decide(group):
        async with real_listen(group) as next_message:
            await approve_in_thread(request, reviewer)
            yield next_message

    monkeypatch.setattr(fanout, "listen", listen_then_decide)
    (client,) = await _clients(acme, 1)
    await subscribe(client, "1", EVENTS, {"id": str(attachment.pk)})
    types = [
        (await receive(client))["payload"]["data"]["attachmentEvents"]["type"] for _ in range(2)
    ]
    assert types == ["APPROVED", "STAGE_MOVED"]
    assert await client.receive_nothing(timeout=0.3)
    await client.disconnect()


async def test_message_without_group_is_routed_by_its_event(acme, monkeypatch):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    real_messages = broadcast._messages

    def without_group(events):
        return [
            (group, {k: v for k, v in message.items() if k != "group"})
            for group, message in real_messages(events)
        ]

    monkeypatch.setattr(broadcast, "_messages", without_group)
    (client,) = await _clients(acme, 1)
    await subscribe(client, "a", EVENTS, {"id": str(attachment.pk)})
    await subscribe(client, "w", WORKFLOW_EVENTS, {"id": str(acme.workflow.pk)})
    await _wait_local_listeners(attachment_group(attachment.pk), 1)
    await _wait_local_listeners(workflow_group(acme.workflow.pk), 1)

    await approve_in_thread(request, reviewer)
    received = [await receive(client) for _ in range(4)]
    by_operation = {}
    for message in received:
        by_operation.setdefault(message["id"], []).append(message["payload"]["data"])
    assert [d["attachmentEvents"]["type"] for d in by_operation["a"]] == ["APPROVED", "STAGE_MOVED"]
    assert [d["workflowEvents"]["type"] for d in by_operation["w"]] == ["APPROVED", "STAGE_MOVED"]
    assert await client.receive_nothing(timeout=0.3)  # each group's copy reached both: deduplicated
    await client.disconnect()


async def test_group_membership_is_refreshed_before_the_layer_expires_it(acme, monkeypatch):
    import asyncio

    monkeypatch.setattr(fanout, "REFRESH_SECONDS", 0.05)
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    group = attachment_group(attachment.pk)
    (client,) = await _clients(acme, 1)
    await subscribe(client, "1", EVENTS, {"id": str(attachment.pk)})
    await _wait_local_listeners(group, 1)
    await wait_group_joined(group)
    hub = fanout._hubs[asyncio.get_running_loop()]
    await get_channel_layer().group_discard(group, hub.channel)  # what group_expiry does
    assert await group_size(group) == 0
    await wait_group_joined(group, timeout=2)

    await approve_in_thread(request, reviewer)
    assert (await receive(client))["payload"]["data"]["attachmentEvents"]["type"] == "APPROVED"
    await client.disconnect()


async def test_in_memory_layer_hands_one_copy_to_every_member():
    from backend.channel_layers import FanOutInMemoryChannelLayer

    layer = FanOutInMemoryChannelLayer()
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("g", channel)
    message = {"type": "x", "nested": {"n": 1}}
    await layer.group_send("g", message)
    received = [await layer.receive(channel) for channel in channels]
    assert received == [message] * 3
    assert received[0] is received[1] is received[2] and received[0] is not message
    assert get_channel_layer() is not None
