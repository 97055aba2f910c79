"""The Python client example (frontend-examples/python/client.py) against a live server.

The server is uvicorn in a subprocess on the test database (committed data: a transactional
test), like a real deployment: the client signs in with a token, lists workflows, approves a
stage over HTTP and prints the live events it receives over graphql-transport-ws.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from backend.accounts.tokens import create_api_token
from backend.demo.models import PurchaseRequest
from backend.workflows.selectors import user_requires_action
from backend.workflows.services import attach_workflow_to_object
from tests.support.helpers import global_id
from tests.support.live_servers import database_url_of, uvicorn_servers

CLIENT = Path(__file__).resolve().parents[2] / "frontend-examples" / "python" / "client.py"


def _require_client_libraries() -> None:
    try:
        import aiohttp  # noqa: F401
        import gql  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as error:
        pytest.fail(
            f"The Python client example needs gql with aiohttp and websockets ({error}): "
            "pip install -e '.[test]' (or pip install 'gql[aiohttp,websockets]')."
        )


def _client(url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CLIENT), "--url", url, "--token", token, "--listen", "20", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_python_client_approves_and_prints_live_events(acme) -> None:
    _require_client_libraries()
    requester = acme.user("requester")
    request = PurchaseRequest.objects.create(title="Python client", amount=250, requester=requester)
    attachment = attach_workflow_to_object(obj=request, workflow=acme.workflow, user=requester)
    approver = next(user for user in acme.users.values() if user_requires_action(request, user))
    _, approver_token = create_api_token(user=approver)
    attachment_id = global_id("WorkflowAttachment", attachment.pk)
    _, requester_token = create_api_token(user=requester)
    approve = ["--approve", attachment_id, "--form", "budget_code=BDG-PY-1"]

    with uvicorn_servers(
        1, database_url=database_url_of(connection.settings_dict), redis_url=None, timeout=60
    ) as [server]:
        refused = _client(server.http_url, requester_token, *approve)
        result = _client(server.http_url, approver_token, *approve)
        server_output = server.output()

    refused_output = f"{refused.stdout}\n{refused.stderr}\n--- server ---\n{server_output}"
    assert refused.returncode == 1, refused_output
    assert "You are not an approver of the current stage. (NOT_AN_APPROVER)" in refused.stdout, (
        refused_output
    )

    output = f"{result.stdout}\n{result.stderr}\n--- server ---\n{server_output}"
    assert result.returncode == 0, output
    assert f"Signed in as {approver.first_name}" in result.stdout, output
    assert "Purchase Request Approval: 2 pipelines, 4 stages" in result.stdout, output
    assert f"attachment {attachment_id}: Purchase Request: Python client" in result.stdout, output
    live = result.stdout.split("Live events:", 1)[-1]
    assert "APPROVED by" in live and "at Initial Review" in live, output
    assert "STAGE_MOVED" in live and "Initial Review -> Budget Approval" in live, output
    attachment.refresh_from_db()
    assert attachment.current_stage.name_en == "Budget Approval"
