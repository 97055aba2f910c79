"""Django's middleware with hooks on the event loop (backend/loop_middleware.py).

The same requests go through the project's middleware and through Django's own classes (the
list the project used before); status, headers and cookies must match. The hooks that can
reach the database (saving a session, storing messages) must still run in a thread.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import AsyncClient, override_settings

from backend import loop_middleware

pytestmark = pytest.mark.django_db(transaction=True)

DJANGOS_OWN = [
    "django.middleware.security.SecurityMiddleware",
    "backend.static_files.StaticFilesMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def test_the_project_uses_the_loop_middleware_in_djangos_order():
    assert [path.rsplit(".", 1)[1] for path in settings.MIDDLEWARE] == [
        path.rsplit(".", 1)[1] for path in DJANGOS_OWN
    ]
    assert sum(path.startswith("backend.loop_middleware.") for path in settings.MIDDLEWARE) == 7


async def _answer(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], set[str]]:
    client = AsyncClient()
    response = await getattr(client, method)(path, **kwargs)
    headers = {name.lower(): value for name, value in response.headers.items()}
    # ``Expires`` is "now" on never-cache pages: two answers may fall in different seconds,
    # so only its presence is compared.
    if "expires" in headers:
        headers["expires"] = "(set)"
    # Cookie values are random (CSRF token, session key); names and attributes are compared.
    cookies = {
        f"{name}:{morsel['path']}:{morsel['samesite']}:{bool(morsel['max-age'])}"
        for name, morsel in response.cookies.items()
    }
    return response.status_code, headers, cookies


REQUESTS = [
    ("get", "/admin/login/", {}),  # sets the CSRF cookie, X-Frame-Options, nosniff
    ("get", "/admin", {}),  # APPEND_SLASH redirect (CommonMiddleware)
    ("get", "/admin/", {}),  # redirect to the login page (session read, empty)
    ("post", "/graphql", {"data": {"query": "{ __typename }"}, "content_type": "application/json"}),
    ("get", "/no-such-page", {}),
]


@pytest.mark.parametrize("method, path, kwargs", REQUESTS, ids=[r[1] for r in REQUESTS])
async def test_answers_match_djangos_middleware(method, path, kwargs):
    with override_settings(MIDDLEWARE=DJANGOS_OWN):
        expected = await _answer(method, path, **kwargs)
    actual = await _answer(method, path, **kwargs)
    assert actual == expected


async def test_a_login_saves_the_session_in_a_thread(monkeypatch):
    # given: an admin and the login form's CSRF cookie
    await sync_to_async(get_user_model().objects.create_superuser)(
        username="root", email="root@example.com", password="pw-123456789"
    )
    threaded: list[str] = []
    original = loop_middleware.sync_to_async

    def recording(func: Any, **kwargs: Any) -> Any:
        threaded.append(getattr(func, "__qualname__", repr(func)))
        return original(func, **kwargs)

    monkeypatch.setattr(loop_middleware, "sync_to_async", recording)
    client = AsyncClient()

    # when: a bearer-less GET (nothing to save), then the login form post
    await client.get("/admin/login/")
    assert threaded == []
    response = await client.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": "pw-123456789"}
    )

    # then: logged in, the session saved by the session middleware's hook in a thread
    assert response.status_code == 302
    assert "SessionMiddleware.process_response" in threaded
    assert "CsrfViewMiddleware.process_view" in threaded  # a form post is checked in a thread
    key = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert await Session.objects.filter(session_key=key).aexists()
    follow = await client.get("/admin/")
    assert follow.status_code == 200


async def test_messages_read_or_added_are_stored_in_a_thread(monkeypatch):
    from django.contrib.messages.storage import default_storage
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = {}  # type: ignore[assignment]
    middleware = loop_middleware.MessageMiddleware(lambda r: None)
    request._messages = default_storage(request)
    assert middleware._response_blocks(request) is False
    request._messages.add(20, "hello")
    assert middleware._response_blocks(request) is True


async def test_authentication_sets_the_lazy_user_on_the_loop(monkeypatch):
    # given: every hop to a thread recorded
    from asgiref.sync import SyncToAsync

    hops: list[str] = []
    hop = SyncToAsync.__call__

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return hop(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", recording)

    # when: a GraphQL request without a session or token
    response = await AsyncClient().post(
        "/graphql", {"query": "{ __typename }"}, content_type="application/json"
    )

    # then: the middleware set request.user without a thread; only Django's request signals
    # (started, and finished when the response is closed) took one
    assert response.status_code == 200
    assert "AuthenticationMiddleware.process_request" not in hops
    assert hops == ["Signal.asend.<locals>.sync_send", "HttpResponseBase.close"]
