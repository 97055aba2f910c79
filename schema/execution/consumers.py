"""The WebSocket endpoint: graphql-transport-ws only, authenticated at connection_init."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.auth import get_user
from django.conf import settings
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from backend.accounts.tokens import aauthenticate_token
from backend.workflows.companies import cached_company_id, get_company_id_for_user
from schema.context import RequestContext
from schema.execution.event_sharing import current_operation

logger = logging.getLogger(__name__)

# RFC 6455 "Try Again Later": the server cannot serve the socket now (the channel layer, i.e.
# Redis, is unreachable); clients such as graphql-ws reconnect after a close with this code.
CLOSE_TRY_AGAIN_LATER = 1013
LAYER_UNAVAILABLE = "Live updates are unavailable; reconnect later."


def is_channel_layer_failure(error: BaseException) -> bool:
    """Tell whether ``error`` means the channel layer cannot be reached (refused, reset, timeout)."""
    if isinstance(error, ConnectionError | TimeoutError | OSError):
        return True
    # redis-py's errors do not derive from the built-in ones.
    return type(error).__module__.startswith("redis") and type(error).__name__ in (
        "ConnectionError",
        "TimeoutError",
        "BusyLoadingError",
    )


def _token_from(params: dict[str, Any] | None) -> str | None:
    value = (params or {}).get("authorization") or (params or {}).get("Authorization")
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class WorkflowTransportWSHandler(BaseGraphQLTransportWSHandler):
    """Expose the running operation to its subscription (``schema.execution.event_sharing.FastPath``)."""

    async def run_operation(self, operation: Any) -> None:
        current_operation.set(operation)  # inside the operation's own task
        await super().run_operation(operation)


class WorkflowWSConsumer(GraphQLWSConsumer):
    """Authenticate by a bearer token in the connection_init payload, or by the session cookie."""

    graphql_transport_ws_handler_class = WorkflowTransportWSHandler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve the socket; if the channel layer fails, close it with a code to retry on.

        Without this a lost Redis ends the consumer with an exception and the socket drops
        without a close frame, which clients report as an abnormal closure (1006).
        """
        try:
            await super().__call__(scope, receive, send)
        except Exception as error:
            if not is_channel_layer_failure(error):
                raise
            logger.warning("Closing a WebSocket: the channel layer failed (%r)", error)
            if self.run_task is not None:
                self.run_task.cancel()
                with contextlib.suppress(BaseException):
                    await self.run_task
            await send(
                {
                    "type": "websocket.close",
                    "code": CLOSE_TRY_AGAIN_LATER,
                    "reason": LAYER_UNAVAILABLE,
                }
            )

    async def get_context(self, request: Any, response: Any) -> RequestContext:  # type: ignore[override]
        return RequestContext(
            request=request, response=response, user=None, company_id=None, ws=request
        )

    async def on_ws_connect(self, context: RequestContext) -> Any:  # type: ignore[override]
        token = _token_from(context.connection_params)
        if token is not None:
            user = await aauthenticate_token(token)  # with the company, as over HTTP
        elif "session" in self.scope:
            user = await get_user(self.scope)
        else:
            user = None
        if user is None or not user.is_authenticated:
            raise ConnectionRejectionError()
        context.user = user
        company_id = cached_company_id(user)
        if company_id is None:  # a session's user: not read with a token
            company_id = await sync_to_async(get_company_id_for_user)(user)
        context.company_id = company_id
        return {"user": user.username}


def websocket_consumer() -> Any:
    """Return the configured ASGI app of the WebSocket endpoint."""
    from schema import schema

    return WorkflowWSConsumer.as_asgi(
        schema=schema,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=dt.timedelta(
            seconds=getattr(settings, "GRAPHQL_WS_INIT_TIMEOUT_SECONDS", 10)
        ),
        max_subscriptions_per_connection=getattr(settings, "GRAPHQL_WS_MAX_SUBSCRIPTIONS", 20),
        allowed_origins=tuple(getattr(settings, "GRAPHQL_WS_ALLOWED_ORIGINS", ())),
    )
