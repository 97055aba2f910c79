"""Write an already encoded WebSocket text frame straight to the server's socket.

A shared subscription event is the same frame for thousands of sockets. Sent through the
ASGI ``send`` of a consumer, each copy passes channels' session middleware, the server's
ASGI send (a coroutine per call), websockets' frame serialization and, when the client
negotiated it, per-socket permessage-deflate compression: about 50 µs per socket per event.
Here the frame's bytes are built once and written to each socket's transport.

- ``keep_server_send`` (outermost in ``backend.asgi``) puts the server's own ASGI send into
  the WebSocket scope, under ``SERVER_SEND``, below every middleware that wraps it.
- ``SocketWriter.of(scope)`` returns a writer when that send belongs to uvicorn's
  ``websockets-sansio`` protocol (uvicorn's default WebSocket implementation), else None:
  callers then send through ASGI as before.
- ``write(frame)`` writes the frame when the socket is open and its buffer is not paused
  (False otherwise: the caller sends through ASGI, which waits for the buffer or fails as
  usual). Frames go out uncompressed: RFC 7692 lets a sender leave any message uncompressed
  (RSV1 unset) on a permessage-deflate connection, and the compression context of the
  connection is not touched, so the frames compressed before and after still decode.

The server's keepalive pings and the close handshake stay with the server; the consumer's
other messages (acknowledgement, first results, errors, completion, pongs) go through ASGI.
"""

from __future__ import annotations

import struct
from typing import Any

SERVER_SEND = "workflowql.server_send"

try:  # pragma: no branch - uvicorn[standard] is a dependency
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.protocol import State
except ImportError:  # pragma: no cover - another server
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]
    State = None  # type: ignore[assignment,misc]

_PROTOCOL_ATTRIBUTES = (
    "transport",
    "conn",
    "writable",
    "close_sent",
    "disconnected",
    "handshake_complete",
    "initial_response",
)


def keep_server_send(app: Any) -> Any:
    """Wrap a WebSocket ASGI app so its scope carries the server's own send."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, SERVER_SEND: send}, receive, send)

    return wrapped


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented, uncompressed text frame (RFC 6455, section 5.2)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


class SocketWriter:
    """Writes pre-built frames to one uvicorn ``websockets-sansio`` connection."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    @classmethod
    def of(cls, scope: dict[str, Any]) -> SocketWriter | None:
        protocol = getattr(scope.get(SERVER_SEND), "__self__", None)
        if (
            WebSocketsSansIOProtocol is None
            or type(protocol) is not WebSocketsSansIOProtocol
            or not all(hasattr(protocol, name) for name in _PROTOCOL_ATTRIBUTES)
        ):
            return None
        return cls(protocol)

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` (from ``text_frame``) if the socket can take it now."""
        protocol = self.protocol
        if (
            protocol.close_sent
            or protocol.disconnected
            or not protocol.handshake_complete
            or protocol.initial_response is not None
            or not protocol.writable.is_set()
            or protocol.conn.state is not State.OPEN
        ):
            return False
        transport = protocol.transport
        if transport.is_closing():
            return False
        transport.write(frame)
        return True
