"""Subscriptions against the real ASGI app over graphql-transport-ws."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from backend.asgi import application
from backend.workflows.broadcast import attachment_group, inbox_group, workflow_group
from backend.workflows.constants import EventType
from backend.workflows.services import approve_stage
from tests.support.helpers import (
    api_token_for,
    attached_request_with_reviewer,
    database_id_of,
    global_id,
)
from tests.support.ws_helpers import connect, receive, subscribe, wait_group_joined

pytestmark = pytest.mark.django_db(transaction=True)

ATTACHMENT_EVENTS = """
subscription($id: ID!, $since: ID) { attachmentEvents(attachmentId: $id, since: $since) {
  id type actor { username } fromStage { nameEn } toStage { nameEn } toPipeline { nameEn } reason
  attachment { id status currentStage { id nameEn } }
  snapshot { status currentStageName currentPipelineName progress { percentage completedStages totalStages } openActions }
} }
"""
WORKFLOW_EVENTS = (
    "subscription($id: ID!) { workflowEvents(workflowId: $id) { id type attachment { id } } }"
)
INBOX = "subscription { myInboxChanged { change attachmentId eventType } }"


@pytest.fixture(autouse=True)
async def _close_connections():
    """Close the connection of asgiref's executor thread too, or PostgreSQL cannot drop the test DB."""
    yield
    await sync_to_async(connections.close_all)()
    connections.close_all()


async def test_attachment_events_push_the_approval_and_stage_move(acme):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    token = await sync_to_async(api_token_for)(acme.user("employee"))
    client = await connect(application, token)
    assert (await receive(client))["type"] == "connection_ack"
    await subscribe(client, "1", ATTACHMENT_EVENTS, {"id": str(attachment.pk)})
    await wait_group_joined(attachment_group(attachment.pk))

    await sync_to_async(approve_stage)(obj=request, user=reviewer, form_data={"budget_code": "B-1"})

    approved = await receive(client)
    moved = await receive(client)
    assert approved["type"] == "next" and approved["id"] == "1"
    assert approved["payload"]["data"]["attachmentEvents"]["type"] == "APPROVED"
    assert approved["payload"]["data"]["attachmentEvents"]["actor"]["username"] == reviewer.username
    event = moved["payload"]["data"]["attachmentEvents"]
    assert event["type"] == "STAGE_MOVED"
    assert event["fromStage"]["nameEn"] == "Initial Review"
    assert event["toStage"]["nameEn"] == "Budget Approval"
    assert event["attachment"]["currentStage"]["nameEn"] == "Budget Approval"
    assert event["snapshot"]["currentStageName"] == "Budget Approval"
    assert event["snapshot"]["progress"] == {
        "percentage": 25.0,
        "completedStages": 1,
        "totalStages": 4,
    }
    # read from the transition policy: what an in-progress attachment accepts, from someone
    assert event["snapshot"]["openActions"] == [
        "APPROVE",
        "CHECK_IN",
        "VERIFY",
        "REJECT",
        "DELEGATE",
        "REQUEST_RESUBMISSION",
        "CANCEL",
        "REASSIGN",
    ]
    assert database_id_of(moved["payload"]["data"]["attachmentEvents"]["id"]) > database_id_of(
        approved["payload"]["data"]["attachmentEvents"]["id"]
    )
    await client.disconnect()


async def test_since_replays_missed_events_then_continues_live_without_duplicates(acme):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    started_id = await sync_to_async(
        lambda: attachment.events.get(event_type=EventType.STARTED).pk
    )()
    await sync_to_async(approve_stage)(obj=request, user=reviewer, form_data={"budget_code": "B-1"})
    token = await sync_to_async(api_token_for)(acme.user("employee"))
    client = await connect(application, token)
    await receive(client)
    await subscribe(
        client, "1", ATTACHMENT_EVENTS, {"id": str(attachment.pk), "since": str(started_id)}
    )

    replayed = [await receive(client), await receive(client)]
    assert [m["payload"]["data"]["attachmentEvents"]["type"] for m in replayed] == [
        "APPROVED",
        "STAGE_MOVED",
    ]
    await wait_group_joined(attachment_group(attachment.pk))
    await sync_to_async(approve_stage)(
        obj=request, user=acme.user("budget_manager1"), form_data={"allocated_budget": "1"}
    )
    live = [await receive(client), await receive(client)]
    ids = [database_id_of(m["payload"]["data"]["attachmentEvents"]["id"]) for m in replayed + live]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [m["payload"]["data"]["attachmentEvents"]["type"] for m in live] == [
        "APPROVED",
        "STAGE_MOVED",
    ]
    await client.disconnect()


async def test_unauthenticated_connection_is_closed_with_4403(acme):
    client = await connect(application, None)
    message = await client.receive_output(timeout=3)
    assert message == {"type": "websocket.close", "code": 4403, "reason": "Forbidden"}


async def test_other_tenant_cannot_subscribe_and_receives_nothing(acme, globex):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    token = await sync_to_async(api_token_for)(globex.user("employee"))
    client = await connect(application, token)
    await receive(client)
    await subscribe(client, "1", ATTACHMENT_EVENTS, {"id": str(attachment.pk)})
    refused = await receive(client)
    assert refused["type"] == "error" or (
        refused["type"] == "next" and refused["payload"]["errors"]
    )
    errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert await receive(client) == {"id": "1", "type": "complete"}
    await subscribe(client, "2", WORKFLOW_EVENTS, {"id": str(acme.workflow.pk)})
    refused = await receive(client)
    errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert await receive(client) == {"id": "2", "type": "complete"}
    # and an approval in company A reaches nothing on this socket
    await sync_to_async(approve_stage)(obj=request, user=reviewer, form_data={"budget_code": "B-1"})
    assert await client.receive_nothing(timeout=0.5)
    await client.disconnect()


async def test_several_subscriptions_on_one_socket_and_unsubscribe(acme):
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    token = await sync_to_async(api_token_for)(reviewer)
    client = await connect(application, token)
    await receive(client)
    await subscribe(client, "a", ATTACHMENT_EVENTS, {"id": str(attachment.pk)})
    await subscribe(client, "w", WORKFLOW_EVENTS, {"id": str(acme.workflow.pk)})
    await subscribe(client, "i", INBOX, {})
    await wait_group_joined(attachment_group(attachment.pk))
    await wait_group_joined(workflow_group(acme.workflow.pk))
    await wait_group_joined(inbox_group(reviewer.pk))

    await sync_to_async(approve_stage)(obj=request, user=reviewer, form_data={"budget_code": "B-1"})

    received = [await receive(client) for _ in range(5)]
    by_operation = {}
    for message in received:
        by_operation.setdefault(message["id"], []).append(message["payload"]["data"])
    assert len(by_operation["a"]) == 2 and len(by_operation["w"]) == 2
    assert by_operation["i"] == [
        {
            "myInboxChanged": {
                "change": "LEFT",
                "attachmentId": global_id("WorkflowAttachment", attachment.pk),
                "eventType": "STAGE_MOVED",
            }
        }
    ]
    await client.send_json_to({"id": "a", "type": "complete"})
    await client.send_json_to({"id": "w", "type": "complete"})
    await client.send_json_to({"id": "i", "type": "complete"})
    await client.disconnect()


async def test_inbox_of_every_role_member_is_told_when_a_colleague_decides(acme):
    # given: the request waits at Budget Approval (role, anyone) for both budget managers
    request, attachment, reviewer = await sync_to_async(attached_request_with_reviewer)(acme)
    await sync_to_async(approve_stage)(obj=request, user=reviewer, form_data={"budget_code": "B-1"})
    colleague = acme.user("budget_manager2")
    cfo = acme.user("cfo")
    sockets = {}
    for user in (colleague, cfo):
        client = await connect(application, await sync_to_async(api_token_for)(user))
        await receive(client)
        await subscribe(client, "i", INBOX, {})
        await wait_group_joined(inbox_group(user.pk))
        sockets[user.username] = client

    # when: the other budget manager approves
    await sync_to_async(approve_stage)(
        obj=request, user=acme.user("budget_manager1"), form_data={"allocated_budget": "1"}
    )

    # then: it left the colleague's inbox and entered the CFO's
    left = await receive(sockets[colleague.username])
    entered = await receive(sockets[cfo.username])
    assert left["payload"]["data"]["myInboxChanged"]["change"] == "LEFT"
    assert entered["payload"]["data"]["myInboxChanged"]["change"] == "ENTERED"
    assert entered["payload"]["data"]["myInboxChanged"]["attachmentId"] == global_id(
        "WorkflowAttachment", attachment.pk
    )
    for client in sockets.values():
        await client.disconnect()
