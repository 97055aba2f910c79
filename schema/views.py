"""The GraphQL HTTP endpoint: authentication, CSRF for cookie sessions, per-request loaders."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from strawberry.django.views import AsyncGraphQLView

from backend.accounts.tokens import authenticate_token
from backend.workflows.companies import get_company_id_for_user
from schema.context import RequestContext
from schema.graphiql import render_graphiql
from schema.schema import schema_for_settings


def bearer_token(request: HttpRequest) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, if present."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _reject_csrf(request: HttpRequest, reason: str) -> HttpResponse:
    return JsonResponse({"errors": [{"message": f"CSRF check failed: {reason}"}]}, status=403)


class GraphQLView(AsyncGraphQLView[RequestContext, None]):
    """Bearer tokens are checked first; cookie sessions must pass Django's CSRF check on POST.

    The schema is picked per request (one view instance serves one request), so introspection
    and field suggestions follow ``DEBUG`` / ``GRAPHQL_INTROSPECTION`` as they are now.
    """

    # Async, like strawberry's: Django awaits it; the stubs type View.dispatch as sync.
    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.schema = schema_for_settings()
        token = bearer_token(request)
        if token is not None:
            user = await sync_to_async(authenticate_token)(token)
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

    async def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        # This app's GraphiQL page and files, not strawberry's (which loads them from a CDN).
        return await sync_to_async(render_graphiql)(request)

    async def get_context(self, request: HttpRequest, response: HttpResponse) -> RequestContext:
        user = request.user
        company_id = (
            await sync_to_async(get_company_id_for_user)(user) if user.is_authenticated else None
        )
        return RequestContext(request=request, response=response, user=user, company_id=company_id)


def graphql_view() -> Any:
    ide = "graphiql" if getattr(settings, "GRAPHQL_IDE", settings.DEBUG) else None
    # The schema given here is replaced per request in ``dispatch``.
    return GraphQLView.as_view(
        schema=schema_for_settings(), graphql_ide=ide, allow_queries_via_get=True
    )
