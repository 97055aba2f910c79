"""A server process holds a bounded number of database connections, however many requests.

Under ASGI, Django runs each request's ORM work in a thread of its own request context, and
database connections belong to threads. With persistent connections (``CONN_MAX_AGE`` > 0)
such threads leave open connections behind that are rarely reused: measured before the
pool, one uvicorn process held 12 PostgreSQL connections after 100 sequential requests, 36
after 400, 65 after 400 more from 20 clients, on the way to PostgreSQL's
``max_connections``. On PostgreSQL the settings now use psycopg's connection pool
(``DB_POOL_MAX_SIZE``, default 10) with ``CONN_MAX_AGE = 0``; SQLite closes its connection
at the end of each request.

The test starts a real uvicorn process on the test database, sends 60 sequential requests
and 120 from 12 concurrent clients (queries and a mutation), and counts the connections the
process holds: on PostgreSQL the backends with the process's ``application_name``, on
SQLite the process's open file descriptors of the database file.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.support.helpers import api_token_for, make_purchase_request
from tests.support.live_servers import database_url_of, uvicorn_servers

pytestmark = pytest.mark.django_db(transaction=True)

QUERY = "{ workflows(first: 5) { edges { node { id nameEn pipelines { stages { id } } } } } }"
ATTACH = """
mutation($objectId: ID!, $workflowId: ID!) { attachWorkflow(input: {model: "demo.purchaserequest",
  objectId: $objectId, workflowId: $workflowId}) { attachment { id status } error { code } } }
"""
# Pool size (10) plus the pool's spare while it replaces a connection.
MAX_CONNECTIONS = 11


def _post(url: str, token: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body


def _held_connections(pid: int, application_name: str) -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [application_name],
            )
            return int(cursor.fetchone()[0])
    database = Path(connection.settings_dict["NAME"]).resolve()
    held = 0
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if Path(os.readlink(descriptor)) == database:
                held += 1
        except OSError:  # closed meanwhile
            continue
    return held


def test_a_server_process_holds_a_bounded_number_of_connections(acme):
    token = api_token_for(acme.user("requester"))
    requests = [make_purchase_request(acme, title=f"Chair {n}") for n in range(20)]
    application_name = f"workflowql-test-{uuid.uuid4().hex[:8]}"
    with uvicorn_servers(
        1,
        database_url=database_url_of(connection.settings_dict),
        redis_url=None,
        extra_env={"PGAPPNAME": application_name},
    ) as (server,):
        for _ in range(60):
            _post(server.http_url, token, QUERY)

        def client(number: int) -> None:
            for step in range(10):
                if step == 0 and number < len(requests):
                    body = _post(
                        server.http_url,
                        token,
                        ATTACH,
                        {"objectId": requests[number].pk, "workflowId": acme.workflow.pk},
                    )
                    assert body["data"]["attachWorkflow"]["error"] is None, body
                else:
                    _post(server.http_url, token, QUERY)

        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(client, range(12)))

        held = _held_connections(server.process.pid, application_name)
        assert held <= MAX_CONNECTIONS, f"{held} connections held:\n{server.output()}"


def test_postgresql_uses_the_pool_without_persistent_connections():
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        assert database["CONN_MAX_AGE"] == 0  # SQLite: a connection per request
        return
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"]["max_size"] == int(os.environ.get("DB_POOL_MAX_SIZE", "10"))
