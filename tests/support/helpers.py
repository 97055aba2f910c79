"""Shared test helpers."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.demo.models import PurchaseRequest

# Above the demo's Executive Approval threshold (10,000), so the seed workflow runs all stages.
DEFAULT_AMOUNT = "12500.00"


def make_purchase_request(scenario, *, title="Laptops", amount=DEFAULT_AMOUNT, requester=None):
    return PurchaseRequest.objects.create(
        title=title,
        amount=Decimal(amount),
        description="",
        requester=requester or scenario.user("requester"),
    )


@contextmanager
def assert_max_queries(limit: int):
    """Fail with every captured SQL statement when more than ``limit`` queries ran."""
    with CaptureQueriesContext(connection) as context:
        yield context
    if len(context.captured_queries) > limit:
        statements = "\n".join(
            f"{i}. {q['sql']}" for i, q in enumerate(context.captured_queries, 1)
        )
        raise AssertionError(
            f"Expected at most {limit} queries, ran {len(context.captured_queries)}:\n{statements}"
        )


def approvers_of(attachment):
    """Return the usernames holding a current step of an attachment, sorted."""
    from approval_workflow.models import ApprovalInstance

    return sorted(
        ApprovalInstance.objects.filter(
            flow__content_type_id=attachment.content_type_id,
            flow__object_id=attachment.object_id,
            status="current",
        ).values_list("assigned_to__username", flat=True)
    )


def api_token_for(user) -> str:
    """Create an API token for ``user`` and return the raw token."""
    from backend.accounts.tokens import create_api_token

    return create_api_token(user=user, name="test")[1]


def graphql(
    client, query: str, variables: dict | None = None, *, user=None, token: str | None = None
):
    """POST a GraphQL document as ``user`` (through a bearer token) and return the JSON body."""
    headers = {}
    if user is not None and token is None:
        token = api_token_for(user)
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = client.post(
        "/graphql",
        data={"query": query, "variables": variables or {}},
        content_type="application/json",
        **headers,
    )
    return response.json()


def global_id(type_name: str, pk) -> str:
    """Return the API's global id of the ``type_name`` object with primary key ``pk``."""
    from base64 import b64encode

    return b64encode(f"{type_name}:{pk}".encode()).decode()


def database_id_of(value: str) -> int:
    """Return the primary key inside one of the API's global ids."""
    from base64 import b64decode

    return int(b64decode(value).decode().partition(":")[2])


def attached_request_with_reviewer(scenario):
    """A new purchase request with the scenario's workflow attached, and its first approver."""
    from backend.workflows.services import attach_workflow_to_object

    request = make_purchase_request(scenario)
    attachment = attach_workflow_to_object(
        obj=request, workflow=scenario.workflow, user=scenario.user("requester")
    )
    reviewer = next(u for u in scenario.users.values() if u.username == approvers_of(attachment)[0])
    return request, attachment, reviewer
