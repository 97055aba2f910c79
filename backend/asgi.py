"""ASGI entry point (composition root): ``backend.asgi:application``.

HTTP goes to Django (GraphQL at /graphql is a Django view, so it never joins the channel
layer); WebSockets at /graphql speak graphql-transport-ws through the Strawberry consumer.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

# Django must be set up before the schema (and its models) are imported. Its requests'
# synchronous work runs on pooled threads (backend/request_threads.py).
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from backend.request_threads import RequestThreads  # noqa: E402
from schema.execution.consumers import websocket_consumer  # noqa: E402
from schema.execution.socket_writer import keep_server_send  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestThreads(django_application),
        # The server's own send goes in the scope: shared subscription events are written
        # to the socket below the middleware (schema.execution.socket_writer).
        "websocket": keep_server_send(
            AuthMiddlewareStack(URLRouter([re_path(r"^graphql/?$", websocket_consumer())]))
        ),
    }
)

# What is loaded by now (Django, the apps, the GraphQL schema) lives as long as the process.
# Frozen, it is left out of the collector's full passes, which otherwise rescan all of it
# while a large response is built (a quarter of the CPU time of a 100-workflow page).
gc.collect()
gc.freeze()
