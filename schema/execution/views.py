"""The GraphQL HTTP endpoint: authentication, CSRF for cookie sessions, per-request loaders."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from cross_web import HTTPException
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from strawberry.django.views import AsyncGraphQLView
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from backend.accounts.tokens import aauthenticate_token, bearer_token_of
from backend.workflows.companies import cached_company_id, get_company_id_for_user
from backend.workflows.input_limits import json_depth
from schema.context import RequestContext
from schema.execution.graphiql import render_graphiql
from schema.execution.response_encoding import encode_response
from schema.schema import schema_for_settings


def bearer_token(request: HttpRequest) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, if present."""
    return bearer_token_of(request.headers.get("Authorization", ""))


# How deep a request body may nest: the deepest input (JSON metadata, 20 levels by default)
# sits a few levels inside {"variables": {"input": ...}}.
MAX_BODY_DEPTH = 64
SUBSCRIPTIONS_OVER_HTTP = (
    "Subscriptions are served over WebSocket (graphql-transport-ws) at /graphql, not over HTTP."
)


def _reject_csrf(request: HttpRequest, reason: str) -> HttpResponse:
    return JsonResponse({"errors": [{"message": f"CSRF check failed: {reason}"}]}, status=403)


class GraphQLView(AsyncGraphQLView[RequestContext, None]):
    """Bearer tokens are checked first; cookie sessions must pass Django's CSRF check on POST.

    Subscriptions are served over WebSocket only: no multipart or SSE transport over HTTP.
    The schema is picked per request (one view instance serves one request), so introspection
    and field suggestions follow ``DEBUG`` / ``GRAPHQL_INTROSPECTION`` as they are now.
    """

    stream_transport_classes_by_protocol: dict[str, Any] = {}

    # Async, like strawberry's: Django awaits it; the stubs type View.dispatch as sync.
    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.schema = schema_for_settings()
        token = bearer_token(request)
        if token is not None:
            user = await aauthenticate_token(token)
            if user is None:
                return JsonResponse(
                    {
                        "errors": [
                            {
                                "message": "Invalid or revoked API token.",
                                "extensions": {"code": "UNAUTHENTICATED"},
                            }
                        ]
                    },
                    status=401,
                )
            request.user = user
        else:
            user = await request.auser()
            request.user = user
            if request.method == "POST" and user.is_authenticated:
                checker = CsrfViewMiddleware(lambda r: HttpResponse())
                checker._reject = _reject_csrf  # type: ignore[attr-defined]  # private hook, not in django-stubs
                # No view callback: Django only reads its ``csrf_exempt`` flag.
                rejection = await sync_to_async(checker.process_view)(request, None, (), {})  # type: ignore[arg-type]
                if rejection is not None:
                    return rejection
        return await super().dispatch(request, *args, **kwargs)

    def decode_json(self, data: str | bytes) -> object:
        """Parse a JSON body or variables; malformed, non-UTF-8 or too deep input is a 400."""
        try:
            decoded = json.loads(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body is not valid UTF-8.") from None
        except RecursionError:
            raise HTTPException(
                400, f"The request body is nested more than {MAX_BODY_DEPTH} levels deep."
            ) from None
        if json_depth(decoded, stop_after=MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
            raise HTTPException(
                400, f"The request body is nested more than {MAX_BODY_DEPTH} levels deep."
            )
        return decoded

    async def execute_single(  # type: ignore[override]
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: Any,
    ) -> Any:
        """Run one operation as strawberry does, but never a subscription (a 400 over HTTP)."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type == OperationType.SUBSCRIPTION:
                raise HTTPException(400, SUBSCRIPTIONS_OVER_HTTP) from None
            raise HTTPException(400, error.as_http_error_reason(request_adapter.method)) from None
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise HTTPException(400, "No GraphQL query found in the request") from None

    def encode_json(self, data: object) -> str | bytes:
        return encode_response(data)

    async def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        # This app's GraphiQL page and files, not strawberry's (which loads them from a CDN).
        return await sync_to_async(render_graphiql)(request)

    async def get_context(self, request: HttpRequest, response: HttpResponse) -> RequestContext:
        user = request.user
        company_id = cached_company_id(user) if user.is_authenticated else None
        if company_id is None and user.is_authenticated:  # not read with the token
            company_id = await sync_to_async(get_company_id_for_user)(user)
        return RequestContext(request=request, response=response, user=user, company_id=company_id)


def graphql_view() -> Any:
    ide = "graphiql" if getattr(settings, "GRAPHQL_IDE", settings.DEBUG) else None
    # The schema given here is replaced per request in ``dispatch``.
    return GraphQLView.as_view(
        schema=schema_for_settings(), graphql_ide=ide, allow_queries_via_get=True
    )
