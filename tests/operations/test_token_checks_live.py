"""A real server checks every bearer token on every request, on its worker threads.

The server checks tokens with a compiled query on long-lived worker threads and their
connections (``backend.accounts.tokens.aauthenticate_token``), which in-process tests do not
exercise (they check in the test's thread, which sees the test's transaction). Here a real
uvicorn process serves committed data: a revoked token, an expired one and a deactivated
user are refused from the very next request, and two companies' tokens, alternating on the
same threads, each see their own company only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from backend.accounts.models import ApiToken
from backend.accounts.tokens import create_api_token, revoke_api_token
from tests.support.live_servers import database_url_of, uvicorn_servers

pytestmark = pytest.mark.django_db(transaction=True)

ME = "{ me { user { username } company { name } } }"
REFUSED = {
    "errors": [
        {"message": "Invalid or revoked API token.", "extensions": {"code": "UNAUTHENTICATED"}}
    ]
}


def post(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": ME}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def me(username: str, company: str) -> dict[str, Any]:
    return {"data": {"me": {"user": {"username": username}, "company": {"name": company}}}}


def test_revocation_expiry_and_deactivation_take_effect_on_the_next_request(acme):
    revoked_row, revoked = create_api_token(user=acme.user("employee"))
    expiring_row, expiring = create_api_token(user=acme.user("requester"))
    _, deactivated = create_api_token(user=acme.user("cfo"))
    with uvicorn_servers(
        1, database_url=database_url_of(connection.settings_dict), redis_url=None
    ) as (server,):
        # given: three tokens that work, each asked several times (every worker thread warm)
        for _ in range(8):
            assert post(server.http_url, revoked) == (200, me("acme-employee", "Acme"))
            assert post(server.http_url, expiring) == (200, me("acme-requester", "Acme"))
            assert post(server.http_url, deactivated) == (200, me("acme-cfo", "Acme"))

        # when: one is revoked, one expires, and the third one's user is deactivated
        revoke_api_token(token=revoked_row)
        ApiToken.objects.filter(pk=expiring_row.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        get_user_model().objects.filter(pk=acme.user("cfo").pk).update(is_active=False)

        # then: the very next request of each is refused, and every one after it
        for _ in range(4):
            assert post(server.http_url, revoked) == (401, REFUSED)
            assert post(server.http_url, expiring) == (401, REFUSED)
            assert post(server.http_url, deactivated) == (401, REFUSED)


def test_tokens_of_two_companies_alternating_each_see_their_own(acme, globex):
    _, acme_token = create_api_token(user=acme.user("budget_manager1"))
    _, globex_token = create_api_token(user=globex.user("budget_manager1"))
    with uvicorn_servers(
        1, database_url=database_url_of(connection.settings_dict), redis_url=None
    ) as (server,):
        for _ in range(10):
            assert post(server.http_url, acme_token) == (
                200,
                me("acme-budget_manager1", "Acme"),
            )
            assert post(server.http_url, globex_token) == (
                200,
                me("globex-budget_manager1", "Globex"),
            )
