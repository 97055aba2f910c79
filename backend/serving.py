"""The uvicorn options this project is deployed and measured with.

``manage.py serve``, the benchmarks' and tests' server processes and the command in
docs/production.md all use these (``tests/architecture/test_docs.py`` checks the docs):

- ``websockets-sansio``: uvicorn's default WebSocket implementation since 0.35, named so
  that a later default cannot change it silently. Shared subscription events are written
  to its sockets as pre-built frames (``schema.execution.socket_writer``); under another
  implementation they go through ASGI, one send per socket, several times slower.
- no permessage-deflate: a compression context pair costs each socket about 50 KiB of
  memory whether it compresses anything or not (of about 125 KiB per idle subscription),
  and live events are small JSON frames. Shared events are sent uncompressed either way.
"""

UVICORN_OPTIONS: dict[str, object] = {"ws": "websockets-sansio", "ws_per_message_deflate": False}
UVICORN_ARGS: tuple[str, ...] = ("--ws", "websockets-sansio", "--ws-per-message-deflate", "false")
