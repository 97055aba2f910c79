"""Django's middleware, run on the event loop when a request's hooks cannot block.

Under ASGI, Django runs every ``process_request`` and ``process_response`` of a
``MiddlewareMixin`` middleware in a worker thread (``sync_to_async``): eleven hops to a
thread and back per request for the middleware in ``settings.MIDDLEWARE``, most of the fixed
cost of a small request. The hooks below only read and write headers, cookies and the request
object, so they run inline; the few cases that can reach the database still take the thread:

- the session is saved (modified, or ``SESSION_SAVE_EVERY_REQUEST``);
- messages were read or added (storing them reads the session);
- the CSRF secret lives in the session (``CSRF_USE_SESSIONS``).

(``AuthenticationMiddleware`` reads no user itself: ``request.user`` is read when first
used, under ASGI by the view, ``await request.auser()`` in a thread.)

Each class behaves exactly like Django's under WSGI (the synchronous path is Django's own);
``tests/operations/test_loop_middleware.py`` checks the inline and threaded cases.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as authentication
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, security


class _InlineHooks:
    """``__acall__`` that runs the hooks on the event loop unless ``_blocks`` says otherwise."""

    get_response: Any

    def _request_blocks(self, request: Any) -> bool:
        return False

    def _response_blocks(self, request: Any) -> bool:
        return False

    async def __acall__(self, request: Any) -> Any:
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            if self._request_blocks(request):
                response = await sync_to_async(process_request, thread_sensitive=True)(request)
            else:
                response = process_request(request)
        response = response or await self.get_response(request)
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if self._response_blocks(request):
                response = await sync_to_async(process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = process_response(request, response)
        return response


class SecurityMiddleware(_InlineHooks, security.SecurityMiddleware):
    """Redirects to HTTPS and security headers: no I/O."""


class CommonMiddleware(_InlineHooks, common.CommonMiddleware):
    """User-agent checks, slash redirects (URL resolution) and Content-Length: no I/O."""


class XFrameOptionsMiddleware(_InlineHooks, clickjacking.XFrameOptionsMiddleware):
    """One header: no I/O."""


class SessionMiddleware(_InlineHooks, sessions.SessionMiddleware):
    """The session store is created lazily; only saving it reaches the database."""

    def _response_blocks(self, request: Any) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (
            session.modified or getattr(settings, "SESSION_SAVE_EVERY_REQUEST", False)
        )


class AuthenticationMiddleware(_InlineHooks, authentication.AuthenticationMiddleware):
    """Sets ``request.user`` (lazy) and ``request.auser``: the user is read when first asked for."""


class MessageMiddleware(_InlineHooks, messages.MessageMiddleware):
    """The storage is created lazily; storing messages read or added reads the session."""

    def _response_blocks(self, request: Any) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and bool(storage.used or storage.added_new)


class CsrfViewMiddleware(_InlineHooks, csrf.CsrfViewMiddleware):
    """The CSRF cookie is read and set inline; a secret kept in the session takes the thread.

    ``process_view`` runs inline too for safe methods and exempt views (the GraphQL endpoint
    checks cookie sessions itself); the check of a form post, which parses the body, keeps
    the thread.
    """

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if self.async_mode:  # Django adapts process_view by whether it is a coroutine
            self.process_view = self._process_view_on_loop  # type: ignore[method-assign,assignment]

    async def _process_view_on_loop(
        self, request: Any, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> Any:
        check = csrf.CsrfViewMiddleware.process_view
        arguments = (self, request, callback, callback_args, callback_kwargs)
        inline = not settings.CSRF_USE_SESSIONS and (
            request.method in ("GET", "HEAD", "OPTIONS", "TRACE")
            or getattr(callback, "csrf_exempt", False)
        )
        if inline:
            return check(*arguments)
        return await sync_to_async(check, thread_sensitive=True)(*arguments)

    def _request_blocks(self, request: Any) -> bool:
        return bool(settings.CSRF_USE_SESSIONS)

    def _response_blocks(self, request: Any) -> bool:
        return bool(settings.CSRF_USE_SESSIONS)
