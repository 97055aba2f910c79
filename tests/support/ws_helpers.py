"""Helpers to drive the real ASGI app over graphql-transport-ws."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import get_channel_layer
from channels.testing.websocket import WebsocketCommunicator

PROTOCOL = "graphql-transport-ws"


async def group_size(group: str) -> int:
    layer = get_channel_layer()
    if hasattr(layer, "groups"):  # in-memory layer
        return len(layer.groups.get(group, {}))
    key = layer._group_key(group)  # channels-redis
    async with layer.connection(layer.consistent_hash(group)) as connection:
        return await connection.zcard(key)


async def wait_group_joined(group: str, members: int = 1, timeout: float = 5.0) -> None:
    """graphql-transport-ws has no 'subscribed' ack: wait until the group has its listeners."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await group_size(group) < members:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nobody joined {group} within {timeout}s")
        await asyncio.sleep(0.02)


async def connect(
    application: Any, token: str | None, *, headers: list | None = None
) -> WebsocketCommunicator:
    """Open a socket and send connection_init (with the token, if any)."""
    communicator = WebsocketCommunicator(
        application, "/graphql", subprotocols=[PROTOCOL], headers=headers or []
    )
    connected, subprotocol = await communicator.connect()
    assert connected and subprotocol == PROTOCOL
    payload = {"authorization": f"Bearer {token}"} if token else {}
    await communicator.send_json_to({"type": "connection_init", "payload": payload})
    return communicator


async def subscribe(
    communicator: WebsocketCommunicator, op_id: str, query: str, variables: dict
) -> None:
    await communicator.send_json_to(
        {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )


async def receive(communicator: WebsocketCommunicator, timeout: float = 5.0) -> dict:
    return await communicator.receive_json_from(timeout=timeout)
