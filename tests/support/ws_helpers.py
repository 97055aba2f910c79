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


class CommunicatorFrameWriter:
    """Stands in for uvicorn's socket (``schema.execution.socket_writer.SocketWriter``) under
    channels' ``WebsocketCommunicator``: decodes each frame written to the socket and hands
    its text to the communicator, as a ``websocket.send`` would. ``writes`` records
    ``(task, text)`` for every frame."""

    def __init__(self, output: asyncio.Queue, writes: list[tuple[Any, str]]) -> None:
        self.output = output
        self.writes = writes

    def write(self, frame: bytes) -> bool:
        assert frame[0] == 0x81, frame[:2]  # FIN + text, unfragmented, no RSV bits
        length, offset = frame[1], 2
        assert not length & 0x80  # a server never masks
        if length == 126:
            length, offset = int.from_bytes(frame[2:4], "big"), 4
        elif length == 127:
            length, offset = int.from_bytes(frame[2:10], "big"), 10
        assert len(frame) == offset + length
        text = frame[offset:].decode()
        self.writes.append((asyncio.current_task(), text))
        self.output.put_nowait({"type": "websocket.send", "text": text})
        return True


def write_frames_directly(monkeypatch: Any, *, unless_header: bytes | None = None) -> list:
    """Let shared events be written to communicator sockets as to uvicorn's (except sockets
    opened with the header ``unless_header``); return the list of writes."""
    from schema.execution import socket_writer

    writes: list[tuple[Any, str]] = []

    def of(scope: dict[str, Any]) -> CommunicatorFrameWriter | None:
        if unless_header is not None and any(k == unless_header for k, _ in scope["headers"]):
            return None
        output = scope[socket_writer.SERVER_SEND].__self__  # the communicator's output queue
        return CommunicatorFrameWriter(output, writes)

    monkeypatch.setattr(socket_writer.SocketWriter, "of", staticmethod(of))
    return writes


async def approve_in_thread(request: Any, reviewer: Any) -> None:
    """Approve ``request``'s current stage as ``reviewer``, from a worker thread."""
    from asgiref.sync import sync_to_async

    from backend.workflows.services import approve_stage

    await sync_to_async(approve_stage)(obj=request, user=reviewer, form_data={"budget_code": "B-1"})
