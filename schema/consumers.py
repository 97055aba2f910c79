"""The WebSocket endpoint: graphql-transport-ws only, authenticated at connection_init."""

from __future__ import annotations

import datetime as dt
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

from backend.accounts.tokens import authenticate_token
from backend.workflows.companies import get_company_id_for_user
from schema.context import RequestContext
from schema.execution import current_operation


def _token_from(params: dict[str, Any] | None) -> str | None:
    value = (params or {}).get("authorization") or (params or {}).get("Authorization")
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class WorkflowTransportWSHandler(BaseGraphQLTransportWSHandler):
    """Expose the running operation to its subscription (``schema.execution.FastPath``)."""

    async def run_operation(self, operation: Any) -> None:
        current_operation.set(operation)  # inside the operation's own task
        await super().run_operation(operation)


class WorkflowWSConsumer(GraphQLWSConsumer):
    """Authenticate by a bearer token in the connection_init payload, or by the session cookie."""

    graphql_transport_ws_handler_class = WorkflowTransportWSHandler

    async def get_context(self, request: Any, response: Any) -> RequestContext:  # type: ignore[override]
        return RequestContext(
            request=request, response=response, user=None, company_id=None, ws=request
        )

    async def on_ws_connect(self, context: RequestContext) -> Any:  # type: ignore[override]
        token = _token_from(context.connection_params)
        if token is not None:
            user = await sync_to_async(authenticate_token)(token)
        elif "session" in self.scope:
            user = await get_user(self.scope)
        else:
            user = None
        if user is None or not user.is_authenticated:
            raise ConnectionRejectionError()
        context.user = user
        context.company_id = await sync_to_async(get_company_id_for_user)(user)
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
