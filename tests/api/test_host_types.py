"""A host application's own types (the demo's ``backend/demo/schema.py``), merged at the root.

``createPurchaseRequest`` is one transaction with typed errors and size limits;
``purchaseRequests`` is the viewer's company's, with keyset cursors and constant SQL; an
attachment's ``target`` is the ``PurchaseRequest`` itself (same id and typename), so a
client's normalized cache holds one record for it.
"""

from __future__ import annotations

import pytest

from backend.demo.models import PurchaseRequest
from backend.workflows.services import attach_workflow_to_object
from tests.support.database_state import database_state
from tests.support.helpers import (
    api_token_for,
    assert_max_queries,
    global_id,
    graphql,
    make_purchase_request,
)

pytestmark = pytest.mark.django_db

CREATE = """
mutation($input: CreatePurchaseRequestInput!) { createPurchaseRequest(input: $input) {
  purchaseRequest { id databaseId title amount description workflowStatus requester { username }
    model objectId display status }
  error { code message field }
  query { purchaseRequests(first: 1) { edges { node { title } } } } } }
"""
LIST = """
query($first: Int, $after: String) { purchaseRequests(first: $first, after: $after) {
  totalCount edges { cursor node { id title amount requester { username } } }
  pageInfo { hasNextPage endCursor } } }
"""
TARGET = """
query($id: ID!) { workflowAttachment(id: $id) { target { __typename id display
  ... on PurchaseRequest { title amount } } } }
"""


def create(client, user, **fields):
    body = graphql(
        client,
        CREATE,
        {"input": {"title": "Laptops", "amount": "2400.50", **fields}},
        user=user,
    )
    return body["data"]["createPurchaseRequest"]


def test_create_purchase_request_creates_it_for_the_viewer(client, acme):
    # when
    payload = create(client, acme.user("requester"), description="Two for the new hires")

    # then
    request = PurchaseRequest.objects.get()
    assert payload == {
        "purchaseRequest": {
            "id": global_id("PurchaseRequest", request.pk),
            "databaseId": request.pk,
            "title": "Laptops",
            "amount": "2400.50",
            "description": "Two for the new hires",
            "workflowStatus": "pending",
            "requester": {"username": acme.user("requester").username},
            "model": "demo.purchaserequest",
            "objectId": str(request.pk),
            "display": "Purchase Request: Laptops - $2400.50",
            "status": "pending",
        },
        "error": None,
        "query": {"purchaseRequests": {"edges": [{"node": {"title": "Laptops"}}]}},
    }
    assert request.requester == acme.user("requester")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"title": "  "}, ("title may not be empty.", "title")),
        ({"title": "x" * 201}, ("title is longer than 200 characters.", "title")),
        ({"amount": "-5"}, ("amount must be more than 0 and at most 9999999999.99.", "amount")),
        ({"amount": "0"}, ("amount must be more than 0 and at most 9999999999.99.", "amount")),
        (
            {"amount": "10000000000"},
            ("amount must be more than 0 and at most 9999999999.99.", "amount"),
        ),
        ({"amount": "12.345"}, ("amount may have at most 2 digits after the point.", "amount")),
        ({"amount": "twelve"}, ("amount must be a decimal number such as 1250.00.", "amount")),
        ({"amount": "NaN"}, ("amount must be more than 0 and at most 9999999999.99.", "amount")),
        (
            {"description": "d" * 5001},
            ("description is longer than 5000 characters.", "description"),
        ),
        (
            {"description": "nul\x00byte"},
            ("description may not contain NUL characters.", "description"),
        ),
    ],
    ids=[
        "blank-title",
        "long-title",
        "negative",
        "zero",
        "too-large",
        "three-decimals",
        "not-a-number",
        "nan",
        "long-description",
        "nul",
    ],
)
def test_create_purchase_request_refuses_bad_input_and_changes_nothing(client, acme, fields, error):
    token = api_token_for(acme.user("requester"))
    before = database_state()

    body = graphql(
        client,
        CREATE,
        {"input": {"title": "Laptops", "amount": "10.00", **fields}},
        token=token,
    )

    if fields.get("description", "").count("\x00"):
        # The input guard refuses NUL characters before any resolver runs.
        assert body["data"] is None
    else:
        message, field = error
        assert body["data"]["createPurchaseRequest"]["error"] == {
            "code": "VALIDATION_ERROR",
            "message": message,
            "field": field,
        }
        assert body["data"]["createPurchaseRequest"]["purchaseRequest"] is None
    assert database_state() == before
    assert PurchaseRequest.objects.count() == 0


def test_create_purchase_request_anonymously_is_refused(client, acme):
    body = graphql(client, CREATE, {"input": {"title": "Laptops", "amount": "10.00"}})

    assert body["data"]["createPurchaseRequest"]["error"] == {
        "code": "UNAUTHENTICATED",
        "message": "Sign in to use the API.",
        "field": None,
    }
    assert PurchaseRequest.objects.count() == 0


def test_purchase_requests_are_the_viewers_companys_only(client, acme, globex):
    mine = [make_purchase_request(acme, title=f"Acme {n}") for n in range(2)]
    make_purchase_request(acme, title="By the company", requester=acme.company)
    make_purchase_request(globex, title="Globex's")

    body = graphql(client, LIST, {"first": 10}, user=acme.user("cfo"))

    assert "errors" not in body, body
    titles = [edge["node"]["title"] for edge in body["data"]["purchaseRequests"]["edges"]]
    assert titles == ["By the company", "Acme 1", "Acme 0"]
    assert body["data"]["purchaseRequests"]["totalCount"] == 3
    assert {e["node"]["id"] for e in body["data"]["purchaseRequests"]["edges"]} >= {
        global_id("PurchaseRequest", request.pk) for request in mine
    }


def test_purchase_requests_need_a_viewer(client, acme):
    make_purchase_request(acme)

    body = graphql(client, LIST, {"first": 10})

    assert body["data"] == {"purchaseRequests": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


def test_a_request_created_between_two_pages_is_neither_repeated_nor_skipped(client, acme):
    made = [make_purchase_request(acme, title=f"Request {n}") for n in range(4)]
    token = api_token_for(acme.company)
    first = graphql(client, LIST, {"first": 2}, token=token)["data"]["purchaseRequests"]

    make_purchase_request(acme, title="Created meanwhile")
    second = graphql(
        client, LIST, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=token
    )["data"]["purchaseRequests"]

    seen = [edge["node"]["title"] for edge in first["edges"] + second["edges"]]
    assert seen == [request.title for request in reversed(made)]
    assert second["pageInfo"]["hasNextPage"] is False


def test_purchase_requests_cost_the_same_queries_for_1_and_40(client, acme):
    token = api_token_for(acme.company)
    make_purchase_request(acme)
    graphql(client, LIST, {"first": 100}, token=token)  # the token's first use records it

    with assert_max_queries(10) as one:
        few = graphql(client, LIST, {"first": 100}, token=token)
    for n in range(39):
        make_purchase_request(acme, title=f"More {n}", requester=acme.user("cfo"))
    with assert_max_queries(len(one.captured_queries)):
        many = graphql(client, LIST, {"first": 100}, token=token)

    assert len(few["data"]["purchaseRequests"]["edges"]) == 1
    assert len(many["data"]["purchaseRequests"]["edges"]) == 40


def test_an_attachments_target_is_the_purchase_request_itself(client, acme):
    request = make_purchase_request(acme, title="Chairs", amount="120.00")
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester"), auto_start=False
    )

    body = graphql(
        client, TARGET, {"id": global_id("WorkflowAttachment", attachment.pk)}, user=acme.company
    )

    assert body["data"]["workflowAttachment"]["target"] == {
        "__typename": "PurchaseRequest",
        "id": global_id("PurchaseRequest", request.pk),
        "display": "Purchase Request: Chairs - $120.00",
        "title": "Chairs",
        "amount": "120.00",
    }
