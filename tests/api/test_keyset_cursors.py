"""Keyset cursors: a row inserted or deleted between two pages never repeats or skips a row."""

from __future__ import annotations

import pytest

from backend.workflows.services import attach_workflow_to_object, clone_workflow, delete_workflow
from tests.support.helpers import database_id_of, global_id, graphql, make_purchase_request

pytestmark = pytest.mark.django_db

ATTACHMENTS = """
query($first: Int, $after: String, $last: Int, $before: String) {
  workflowAttachments(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }
"""
WORKFLOWS = """
query($after: String) { workflows(first: 2, after: $after, order: NAME) {
  edges { node { nameEn } } pageInfo { hasNextPage endCursor } } }
"""
EVENTS = """
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  workflowAttachment(id: $id) { events(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { type } } pageInfo { hasNextPage hasPreviousPage endCursor startCursor } } } }
"""


def _attach(scenario, title):
    request = make_purchase_request(scenario, title=title)
    return attach_workflow_to_object(
        obj=request, workflow=scenario.workflow, user=scenario.user("requester")
    )


def _page(client, scenario, **variables):
    body = graphql(client, ATTACHMENTS, variables, user=scenario.company)
    assert "errors" not in body, body
    return body["data"]["workflowAttachments"]


def test_an_attachment_created_between_two_pages_is_neither_repeated_nor_skipped(client, acme):
    # given: four attachments, newest first
    made = [_attach(acme, f"Request {n}") for n in range(4)]
    first = _page(client, acme, first=2)

    # when: a new one is created, then the next page is read
    _attach(acme, "Created meanwhile")
    second = _page(client, acme, first=2, after=first["pageInfo"]["endCursor"])

    # then: the second page continues exactly after the first
    seen = [edge["node"]["id"] for edge in first["edges"] + second["edges"]]
    assert seen == [global_id("WorkflowAttachment", a.pk) for a in reversed(made)]
    assert (second["pageInfo"]["hasNextPage"], second["pageInfo"]["hasPreviousPage"]) == (
        False,
        True,
    )
    assert second["totalCount"] == 5


def test_a_row_deleted_between_two_pages_does_not_shift_the_next_page(client, acme):
    copies = [
        clone_workflow(workflow=acme.workflow, created_by=acme.company, name_en=f"Copy {n}")
        for n in range(4)
    ]
    first = graphql(client, WORKFLOWS, {}, user=acme.company)["data"]["workflows"]
    assert [e["node"]["nameEn"] for e in first["edges"]] == ["Copy 0", "Copy 1"]

    delete_workflow(workflow=copies[1])  # the last row of the first page
    second = graphql(
        client, WORKFLOWS, {"after": first["pageInfo"]["endCursor"]}, user=acme.company
    )["data"]["workflows"]

    assert [e["node"]["nameEn"] for e in second["edges"]] == ["Copy 2", "Copy 3"]
    assert second["pageInfo"]["hasNextPage"] is True  # the template itself comes last


def test_last_and_before_page_backwards(client, acme):
    made = [_attach(acme, f"Request {n}") for n in range(5)]
    newest_first = [global_id("WorkflowAttachment", a.pk) for a in reversed(made)]

    tail = _page(client, acme, last=2)
    before_tail = _page(client, acme, last=2, before=tail["pageInfo"]["startCursor"])

    assert [e["node"]["id"] for e in tail["edges"]] == newest_first[3:]
    assert [e["node"]["id"] for e in before_tail["edges"]] == newest_first[1:3]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    assert before_tail["pageInfo"]["hasNextPage"] is True


def test_a_foreign_cursor_is_a_validation_error(client, acme):
    _attach(acme, "One")
    body = graphql(
        client, ATTACHMENTS, {"first": 1, "after": "YXJyYXljb25uZWN0aW9uOjA="}, user=acme.company
    )

    assert body["data"] == {"workflowAttachments": None}
    (error,) = body["errors"]
    assert (error["message"], error["extensions"]) == (
        "Argument 'after' is not a valid cursor.",
        {"code": "VALIDATION_ERROR", "field": "after"},
    )


def test_events_are_a_relay_connection_both_ways(client, acme):
    attachment = _attach(acme, "Events")
    variables = {"id": global_id("WorkflowAttachment", attachment.pk)}

    def events(**page):
        body = graphql(client, EVENTS, {**variables, **page}, user=acme.company)
        assert "errors" not in body, body
        return body["data"]["workflowAttachment"]["events"]

    first = events(first=1)
    rest = events(first=10, after=first["pageInfo"]["endCursor"])
    last = events(last=1)
    before = events(last=5, before=last["pageInfo"]["startCursor"])

    assert [e["node"]["type"] for e in first["edges"]] == ["ATTACHED"]
    assert [e["node"]["type"] for e in rest["edges"]] == ["STARTED"]
    assert (first["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    assert [e["node"]["type"] for e in last["edges"]] == ["STARTED"]
    assert [e["node"]["type"] for e in before["edges"]] == ["ATTACHED"]
    assert last["pageInfo"]["hasPreviousPage"] is True
    assert first["totalCount"] == last["totalCount"] == 2
    assert (
        database_id_of(
            graphql(
                client,
                "query($id: ID!) { node(id: $id) { id } }",
                {"id": global_id("WorkflowAttachment", attachment.pk)},
                user=acme.company,
            )["data"]["node"]["id"]
        )
        == attachment.pk
    )
