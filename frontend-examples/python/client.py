"""A Python client of the WorkflowQL API with the `gql` library.

It signs in with an API token, lists the workflows and your pending approvals over HTTP, and,
given an attachment's global id (as the inbox lists it), follows that attachment's events over a WebSocket (protocol
graphql-transport-ws) while it approves your step, printing each event as it arrives.

    pip install 'gql[aiohttp,websockets]'
    export WORKFLOWQL_TOKEN=$(DEBUG=1 .venv/bin/python manage.py create_api_token acme-budget_manager1)
    python frontend-examples/python/client.py                        # who am I, workflows, inbox
    python frontend-examples/python/client.py --approve V29ya2Zsb3dBdHRhY2htZW50OjI= --form allocated_budget=15000
    python frontend-examples/python/client.py --watch                # print inbox changes live

Exit status: 0 on success, 1 when the server refused the decision (its typed error is printed),
2 on a usage or connection problem.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from gql import Client, GraphQLRequest, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.websockets import WebsocketsTransport

# The schema the documents are written against; the client validates them with it locally.
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"

ME = gql("""
query Me {
  me { user { id username displayName } company { name } }
}
""")

WORKFLOWS = gql("""
query Workflows {
  workflows(first: 50, order: NAME) {
    totalCount
    edges { node { id nameEn pipelinesCount totalStagesCount } }
  }
}
""")

INBOX = gql("""
query Inbox {
  myPendingApprovals(first: 20) {
    totalCount
    edges { node { id target { display } currentStage { nameEn } progress { percentage } } }
  }
}
""")

LAST_EVENT = gql("""
query LastEvent($id: ID!) {
  workflowAttachment(id: $id) {
    id
    target { display }
    currentStage { id nameEn }
    events(first: 100) { nodes { id } }
  }
}
""")

APPROVE = gql("""
mutation Approve($input: ApproveStageInput!) {
  approveStage(input: $input) {
    attachment { id status progress { percentage } currentStage { nameEn } }
    error { code message field }
  }
}
""")

ATTACHMENT_EVENTS = gql("""
subscription AttachmentEvents($attachmentId: ID!, $since: ID) {
  attachmentEvents(attachmentId: $attachmentId, since: $since) {
    id
    type
    actor { displayName }
    fromStage { nameEn }
    toStage { nameEn }
    reason
    attachment { id status currentStage { id nameEn } }
    snapshot {
      status
      currentStageName
      progress { percentage completedStages totalStages }
    }
  }
}
""")

INBOX_CHANGED = gql("""
subscription InboxChanged {
  myInboxChanged { change attachmentId eventType }
}
""")


def request(document: GraphQLRequest, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables or None)


def clients(url: str, token: str) -> tuple[Client, Client]:
    """An HTTP client for queries and mutations, a WebSocket client for subscriptions."""
    schema = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else None
    http = Client(
        transport=AIOHTTPTransport(url=url, headers={"Authorization": f"Bearer {token}"}),
        schema=schema,
    )
    ws_url = url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    ws = Client(
        transport=WebsocketsTransport(
            url=ws_url,
            # The server authenticates the socket from the connection_init payload.
            init_payload={"authorization": f"Bearer {token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],  # graphql-transport-ws
        ),
        schema=schema,
    )
    return http, ws


def describe_event(event: dict[str, Any]) -> str:
    actor = (event.get("actor") or {}).get("displayName", "the system")
    text = f"[event {event['id']}] {event['type']} by {actor}"
    if event.get("fromStage") and event.get("toStage") and event["fromStage"] != event["toStage"]:
        text += f": {event['fromStage']['nameEn']} -> {event['toStage']['nameEn']}"
    elif event.get("fromStage"):
        text += f" at {event['fromStage']['nameEn']}"
    if event.get("reason"):
        text += f' ("{event["reason"]}")'
    # The state right after this event (the attachment itself is its current state).
    state = event.get("snapshot")
    if state:
        progress = state["progress"]
        stage = state.get("currentStageName") or "-"
        text += (
            f" | {state['status'].lower()}, {progress['percentage']:.0f}% "
            f"({progress['completedStages']}/{progress['totalStages']}), now at {stage}"
        )
    return text


async def overview(http: Any) -> None:
    me = (await http.execute(ME))["me"]
    if me is None:
        raise SystemExit("The server did not accept the token.")
    print(
        f"Signed in as {me['user']['displayName']} ({me['user']['username']}) of {me['company']['name']}"
    )
    workflows = (await http.execute(WORKFLOWS))["workflows"]
    print(f"Workflows ({workflows['totalCount']}):")
    for edge in workflows["edges"]:
        node = edge["node"]
        print(
            f"  #{node['id']} {node['nameEn']}: {node['pipelinesCount']} pipelines, {node['totalStagesCount']} stages"
        )
    inbox = (await http.execute(INBOX))["myPendingApprovals"]
    print(f"My pending approvals ({inbox['totalCount']}):")
    for edge in inbox["edges"]:
        node = edge["node"]
        stage = (node["currentStage"] or {}).get("nameEn", "-")
        print(
            f"  attachment {node['id']}: {node['target']['display']} at {stage} ({node['progress']['percentage']:.0f}%)"
        )


async def approve_and_follow(
    http: Any,
    ws: Any,
    attachment_id: str,
    form: dict[str, str],
    comment: str,
    stop_after: str,
    listen: float,
) -> int:
    """Subscribe to the attachment's events (from the last one seen), approve, print what follows."""
    attachment = (await http.execute(request(LAST_EVENT, id=attachment_id)))["workflowAttachment"]
    nodes = attachment["events"]["nodes"]
    since = nodes[-1]["id"] if nodes else None
    stage = (attachment["currentStage"] or {}).get("nameEn", "-")
    print(
        f"Following attachment {attachment_id} ({attachment['target']['display']}, at {stage}) from event {since}"
    )

    events = ws.subscribe(request(ATTACHMENT_EVENTS, attachmentId=attachment_id, since=since))
    # With `since`, the server replays anything after that event, so it does not matter whether
    # the approval below commits before or after the subscription is registered.
    # The approval names the stage read above: if the workflow moves on in between (another
    # approver was quicker), the server answers CONFLICT instead of approving the next stage.
    expected_stage_id = (attachment["currentStage"] or {}).get("id")
    approval = {
        "attachmentId": attachment_id,
        "expectedStageId": expected_stage_id,
        "formData": form or None,
        "comment": comment,
    }
    result = (await http.execute(request(APPROVE, input=approval)))["approveStage"]
    if result["error"]:
        error = result["error"]
        field = f", field {error['field']}" if error.get("field") else ""
        print(f"Not approved: {error['message']} ({error['code']}{field})")
        await events.aclose()
        return 1
    print("Approved. Live events:")
    try:
        async with asyncio.timeout(listen):
            async for data in events:
                event = data["attachmentEvents"]
                print(describe_event(event), flush=True)
                if event["type"] == stop_after or event["type"] in {
                    "COMPLETED",
                    "REJECTED",
                    "CANCELLED",
                }:
                    break
    except TimeoutError:
        print(f"(no more events within {listen:.0f} s)")
    finally:
        await events.aclose()
    return 0


async def watch_inbox(ws: Any, listen: float) -> int:
    print(f"Watching my inbox for {listen:.0f} s (Ctrl-C to stop)...")
    try:
        async with asyncio.timeout(listen):
            async for data in ws.subscribe(INBOX_CHANGED):
                change = data["myInboxChanged"]
                print(
                    f"attachment {change['attachmentId']} {change['change'].lower()} my inbox ({change['eventType']})",
                    flush=True,
                )
    except TimeoutError:
        pass
    return 0


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("WORKFLOWQL_URL", "http://127.0.0.1:8000/graphql")
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("WORKFLOWQL_TOKEN"),
        help="API token (or WORKFLOWQL_TOKEN)",
    )
    parser.add_argument(
        "--approve", metavar="ATTACHMENT_ID", help="approve your step of this attachment"
    )
    parser.add_argument(
        "--form", action="append", default=[], metavar="NAME=VALUE", help="form answer (repeatable)"
    )
    parser.add_argument("--comment", default="Approved from the Python client example.")
    parser.add_argument(
        "--stop-after",
        default="STAGE_MOVED",
        help="stop after this event type (default STAGE_MOVED)",
    )
    parser.add_argument(
        "--watch", action="store_true", help="print changes of my inbox as they happen"
    )
    parser.add_argument(
        "--listen", type=float, default=30.0, help="seconds to wait for live events"
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error(
            "give --token or set WORKFLOWQL_TOKEN (manage.py create_api_token <username> prints one)"
        )
    form = dict(item.split("=", 1) for item in args.form if "=" in item)

    http_client, ws_client = clients(args.url, args.token)
    try:
        async with http_client as http:
            await overview(http)
            if not args.approve and not args.watch:
                return 0
            async with ws_client as ws:
                if args.approve:
                    return await approve_and_follow(
                        http, ws, args.approve, form, args.comment, args.stop_after, args.listen
                    )
                return await watch_inbox(ws, args.listen)
    except TransportQueryError as error:
        print(f"GraphQL error: {error.errors or error}", file=sys.stderr)
        return 2
    except (TransportError, OSError) as error:
        print(f"Cannot talk to {args.url}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
