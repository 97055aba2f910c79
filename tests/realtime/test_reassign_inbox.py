"""A reassignment through GraphQL is pushed live to both inboxes, never to the manager's."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import Client

from backend.asgi import application
from backend.workflows.broadcast import inbox_group
from tests.api.test_graphql_reassign_stage import REASSIGN, reassign_input
from tests.support.helpers import api_token_for, global_id, graphql
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval
from tests.support.ws_helpers import connect, receive, subscribe, wait_group_joined

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = "subscription { myInboxChanged { change attachmentId eventType } }"


@pytest.fixture(autouse=True)
async def _close_connections():
    """Close the connection of asgiref's executor thread too, or PostgreSQL cannot drop the test DB."""
    yield
    await sync_to_async(connections.close_all)()
    connections.close_all()


def _waiting_for_a_budget_manager(acme):
    workflow = two_stage_workflow(acme, user_approval(acme.user("budget_manager1")))
    return attached_request(acme, workflow)[1]


async def test_reassign_pushes_left_and_entered_but_nothing_to_the_manager(acme):
    # given: the step is held by a budget manager; the holder, the CFO and the company
    # account (the manager who reassigns) each watch their inbox
    attachment = await sync_to_async(_waiting_for_a_budget_manager)(acme)
    holder, cfo, manager = acme.user("budget_manager1"), acme.user("cfo"), acme.company
    sockets = {}
    for user in (holder, cfo, manager):
        socket = await connect(application, await sync_to_async(api_token_for)(user))
        assert (await receive(socket))["type"] == "connection_ack"
        await subscribe(socket, "i", INBOX, {})
        await wait_group_joined(inbox_group(user.pk))
        sockets[user.pk] = socket

    # when: the company account reassigns the step to the CFO through GraphQL
    body = await sync_to_async(graphql)(
        Client(),
        REASSIGN,
        {"input": reassign_input(attachment, toUserId=global_id("User", cfo.pk))},
        user=manager,
    )

    # then
    assert body["data"]["reassignStage"]["error"] is None
    left = (await receive(sockets[holder.pk]))["payload"]["data"]["myInboxChanged"]
    entered = (await receive(sockets[cfo.pk]))["payload"]["data"]["myInboxChanged"]
    expected_id = global_id("WorkflowAttachment", attachment.pk)
    assert left == {"change": "LEFT", "attachmentId": expected_id, "eventType": "REASSIGNED"}
    assert entered == {"change": "ENTERED", "attachmentId": expected_id, "eventType": "REASSIGNED"}
    assert await sockets[manager.pk].receive_nothing(timeout=0.5)
    for socket in sockets.values():
        await socket.disconnect()
