"""With Redis unreachable, a WebSocket is closed with a code the client retries on (1013).

Decisions keep committing meanwhile (``tests/realtime/test_subscription_faults.py``); here the socket
side: before, the consumer died with the layer's exception and the socket dropped without
a close frame (1006 for the client).
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing.websocket import WebsocketCommunicator
from django.db import connections

from backend.asgi import application
from schema.execution.consumers import CLOSE_TRY_AGAIN_LATER, is_channel_layer_failure
from tests.support.helpers import api_token_for
from tests.support.live_servers import free_port
from tests.support.ws_helpers import PROTOCOL

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unreachable_redis(settings, monkeypatch):
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # nothing listens on a free port once the probe socket is closed
                "hosts": [{"address": f"redis://127.0.0.1:{free_port()}/0"}]
            },
        }
    }
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


async def test_a_socket_is_closed_with_try_again_later_when_redis_is_unreachable(
    acme, unreachable_redis
):
    # given
    token = await sync_to_async(api_token_for)(acme.user("employee"))
    socket = WebsocketCommunicator(application, "/graphql", subprotocols=[PROTOCOL])

    # when
    connected, _ = await socket.connect(timeout=5)
    await socket.send_json_to(
        {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    )
    closing = await socket.receive_output(timeout=5)

    # then
    assert connected
    assert closing == {
        "type": "websocket.close",
        "code": CLOSE_TRY_AGAIN_LATER,
        "reason": "Live updates are unavailable; reconnect later.",
    }
    assert CLOSE_TRY_AGAIN_LATER == 1013
    await socket.wait(timeout=5)  # the consumer has finished
    await sync_to_async(connections.close_all)()


def test_only_unreachable_layer_errors_close_the_socket_for_retry():
    import redis.exceptions

    assert is_channel_layer_failure(ConnectionRefusedError())
    assert is_channel_layer_failure(redis.exceptions.ConnectionError("refused"))
    assert is_channel_layer_failure(redis.exceptions.TimeoutError())
    assert not is_channel_layer_failure(ValueError("a bug"))
    assert not is_channel_layer_failure(redis.exceptions.ResponseError("WRONGTYPE"))


@pytest.fixture
def hung_redis(settings, monkeypatch):
    """A server that accepts connections and reads, but never answers (a hung Redis)."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def swallow():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)

    threading.Thread(target=swallow, daemon=True).start()
    port = listener.getsockname()[1]
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # The project's host settings, with a shorter socket timeout for the test.
                "hosts": [
                    {
                        "address": f"redis://127.0.0.1:{port}/0",
                        "socket_connect_timeout": 2,
                        "socket_timeout": 1,
                    }
                ]
            },
        }
    }
    channel_layers.backends = {}
    yield accepted
    channel_layers.backends = {}
    listener.close()
    for connection in accepted:
        connection.close()


async def test_a_socket_is_closed_with_try_again_later_when_redis_hangs(acme, hung_redis):
    # given: Redis accepts the connection and never answers
    token = await sync_to_async(api_token_for)(acme.user("employee"))
    socket = WebsocketCommunicator(application, "/graphql", subprotocols=[PROTOCOL])

    # when
    connected, _ = await socket.connect(timeout=5)
    await socket.send_json_to(
        {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    )
    acknowledged = await socket.receive_json_from(timeout=5)
    closing = await socket.receive_output(timeout=8)

    # then: the socket was accepted (nothing asked Redis yet); the layer's blocking read
    # then timed out, and the client is told to retry instead of waiting forever
    assert connected
    assert acknowledged["type"] == "connection_ack"
    assert hung_redis, "the consumer never reached the hung server"
    assert closing == {
        "type": "websocket.close",
        "code": CLOSE_TRY_AGAIN_LATER,
        "reason": "Live updates are unavailable; reconnect later.",
    }
    await socket.wait(timeout=5)
    await sync_to_async(connections.close_all)()


def test_the_redis_layer_times_out_reads_after_its_blocking_read():
    from django.conf import settings as project

    from backend import settings as configured

    assert configured.REDIS_SOCKET_TIMEOUT_SECONDS > 5  # channels-redis's BZPOPMIN timeout
    if "channels_redis" in project.CHANNEL_LAYERS["default"]["BACKEND"]:
        (host,) = project.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
        assert host["socket_timeout"] == configured.REDIS_SOCKET_TIMEOUT_SECONDS
