"""Live updates across two real server processes sharing the Redis channel layer.

Two ``uvicorn`` processes serve ``backend.asgi:application`` on the pytest test database
(SQLite file or PostgreSQL) with ``REDIS_URL`` set: a websocket client subscribes through
process A, the decision is an HTTP POST to process B, and the event must arrive on A. This
is the path the in-memory layer cannot serve (it fails silently across processes). When no
Redis answers, ``tests.support.live_servers.redis_server`` runs a throwaway ``redis-server``.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from django.db import connection
from websockets.sync.client import connect as ws_connect

from backend.workflows.broadcast import attachment_group
from backend.workflows.services import attach_workflow_to_object
from tests.support.helpers import (
    api_token_for,
    approvers_of,
    database_id_of,
    global_id,
    make_purchase_request,
)
from tests.support.live_servers import (
    database_url_of,
    redis_group_size,
    redis_server,
    uvicorn_servers,
)

pytestmark = pytest.mark.django_db(transaction=True)

# A Redis database of its own, apart from the channel layer of the pytest process (REDIS_URL).
REDIS_DB = 13
PROTOCOL = "graphql-transport-ws"
SUBSCRIPTION = """
subscription($id: ID!) { attachmentEvents(attachmentId: $id) {
  id type actor { username } fromStage { nameEn } toStage { nameEn }
  attachment { id }
  snapshot { status currentStageName progress { completedStages totalStages } }
} }
"""
APPROVE = """
mutation($id: ID!, $form: JSON) { approveStage(input: {attachmentId: $id, formData: $form}) {
  attachment { id currentStage { nameEn } } error { code message }
} }
"""


def _post(url: str, token: str, query: str, variables: dict, timeout: float = 10.0) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _wait_group_joined(redis_url: str, group: str, timeout: float = 5.0) -> None:
    """graphql-transport-ws has no 'subscribed' ack: wait until A has joined the Redis group."""
    deadline = time.monotonic() + timeout
    while redis_group_size(redis_url, group) < 1:
        if time.monotonic() > deadline:
            raise AssertionError(f"nobody joined {group} within {timeout}s")
        time.sleep(0.02)


def test_event_committed_through_one_process_reaches_a_subscriber_of_another(acme):
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )
    reviewer = next(u for u in acme.users.values() if u.username == approvers_of(attachment)[0])
    subscriber_token = api_token_for(acme.user("employee"))
    reviewer_token = api_token_for(reviewer)
    database_url = database_url_of(connection.settings_dict)

    with (
        redis_server(REDIS_DB) as redis_url,
        uvicorn_servers(
            2,
            timeout=12,
            database_url=database_url,
            redis_url=redis_url,
            extra_env={"CONN_MAX_AGE": "0"},
        ) as (server_a, server_b),
    ):
        try:
            with ws_connect(
                server_a.ws_url, subprotocols=[PROTOCOL], open_timeout=5, close_timeout=1
            ) as ws:
                assert ws.subprotocol == PROTOCOL
                ws.send(
                    json.dumps(
                        {
                            "type": "connection_init",
                            "payload": {"authorization": f"Bearer {subscriber_token}"},
                        }
                    )
                )
                assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
                ws.send(
                    json.dumps(
                        {
                            "id": "1",
                            "type": "subscribe",
                            "payload": {
                                "query": SUBSCRIPTION,
                                "variables": {"id": str(attachment.pk)},
                            },
                        }
                    )
                )
                _wait_group_joined(redis_url, attachment_group(attachment.pk))

                answer = _post(
                    server_b.http_url,
                    reviewer_token,
                    APPROVE,
                    {"id": str(attachment.pk), "form": {"budget_code": "B-1"}},
                )
                assert "errors" not in answer, answer
                assert answer["data"]["approveStage"]["error"] is None, answer
                assert (
                    answer["data"]["approveStage"]["attachment"]["currentStage"]["nameEn"]
                    == "Budget Approval"
                )

                messages = [json.loads(ws.recv(timeout=5)) for _ in range(2)]
                ws.send(json.dumps({"id": "1", "type": "complete"}))
        except Exception as error:
            raise AssertionError(
                f"{error!r}\n--- server A ---\n{server_a.output()}\n--- server B ---\n{server_b.output()}"
            ) from error

    assert [m["type"] for m in messages] == ["next", "next"]
    events = [m["payload"]["data"]["attachmentEvents"] for m in messages]
    assert [e["type"] for e in events] == ["APPROVED", "STAGE_MOVED"]
    assert events[0]["actor"]["username"] == reviewer.username
    assert database_id_of(events[0]["id"]) < database_id_of(events[1]["id"])
    moved = events[1]
    assert moved["fromStage"]["nameEn"] == "Initial Review"
    assert moved["toStage"]["nameEn"] == "Budget Approval"
    assert moved["attachment"] == {"id": global_id("WorkflowAttachment", attachment.pk)}
    assert moved["snapshot"] == {
        "status": "IN_PROGRESS",
        "currentStageName": "Budget Approval",
        "progress": {"completedStages": 1, "totalStages": 4},
    }
