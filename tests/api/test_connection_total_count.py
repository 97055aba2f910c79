"""``totalCount`` of a root connection: read with its page, right under inserts, deletes and filters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.workflows.models import WorkflowAttachment
from backend.workflows.services import cancel_workflow
from schema.execution.pagination import keyset_page
from tests.api.test_graphql_deadlines import T0, at, inbox_of_four, started
from tests.api.test_graphql_query_counts import counted_after_warm_up, warm_token
from tests.support.helpers import graphql

pytestmark = pytest.mark.django_db

INBOX = """
query($overdue: Boolean, $first: Int, $after: String, $last: Int, $before: String) {
  myPendingApprovals(overdue: $overdue, first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { node { id } } pageInfo { endCursor startCursor } } }
"""
INBOX_WITHOUT_TOTAL = """
query($first: Int) { myPendingApprovals(first: $first) { edges { node { id } } } }
"""
ATTACHMENTS = """
query($status: [AttachmentStatus!], $first: Int, $after: String) {
  workflowAttachments(filter: {status: $status}, first: $first, after: $after) {
    totalCount edges { node { id } } pageInfo { endCursor } } }
"""


def _inbox(client, token, **variables):
    body = graphql(client, INBOX, variables, token=token)
    assert "errors" not in body, body
    return body["data"]["myPendingApprovals"]


def test_inbox_total_count_on_every_page_and_with_the_overdue_filter(client, acme):
    # given: four steps for the employee, C due on day 1 and A on day 3
    inbox_of_four(acme)
    token = warm_token(client, acme.user("employee"))

    with at(T0 + timedelta(days=2)):
        first = _inbox(client, token, first=1)
        second = _inbox(client, token, first=1, after=first["pageInfo"]["endCursor"])
        backwards = _inbox(client, token, last=1, before=second["pageInfo"]["startCursor"])
        last_page = _inbox(client, token, last=2)
        overdue = _inbox(client, token, overdue=True, first=10)
        on_time = _inbox(client, token, overdue=False, first=1)
        empty_page = _inbox(client, token, first=0)

    assert [page["totalCount"] for page in (first, second, backwards, last_page)] == [4, 4, 4, 4]
    assert (len(overdue["edges"]), overdue["totalCount"]) == (1, 1)
    assert (len(on_time["edges"]), on_time["totalCount"]) == (1, 3)
    assert (len(empty_page["edges"]), empty_page["totalCount"]) == (0, 4)


def test_inbox_total_count_follows_inserts_and_removals(client, acme):
    made = inbox_of_four(acme)
    token = warm_token(client, acme.user("employee"))
    assert _inbox(client, token, first=2)["totalCount"] == 4

    # an attachment arrives, then two leave the inbox (one cancelled, one deleted)
    started(acme, due_in=None, title="E")
    after_insert = _inbox(client, token, first=2)
    cancel_workflow(obj=made[0].request, user=acme.user("requester"), reason="No longer needed")
    WorkflowAttachment.objects.filter(pk=made[1].pk).delete()
    after_removal = _inbox(client, token, first=2)
    next_page = _inbox(client, token, first=2, after=after_removal["pageInfo"]["endCursor"])

    assert after_insert["totalCount"] == 5
    assert (after_removal["totalCount"], next_page["totalCount"]) == (3, 3)
    assert len(after_removal["edges"]) + len(next_page["edges"]) == 3


def test_an_empty_inbox_counts_zero(client, acme):
    token = warm_token(client, acme.user("employee"))
    assert _inbox(client, token, first=5) == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"endCursor": None, "startCursor": None},
    }


def test_a_first_page_reads_its_total_in_the_page_query(client, acme):
    inbox_of_four(acme)
    token = warm_token(client, acme.user("employee"))

    with_total = counted_after_warm_up(client, INBOX, {"first": 2}, token=token)
    without_total = counted_after_warm_up(client, INBOX_WITHOUT_TOTAL, {"first": 2}, token=token)

    assert len(with_total.statements) == len(without_total.statements)
    assert not [sql for sql in with_total.statements if "COUNT(*) AS" in sql]
    assert [sql for sql in with_total.statements if "COUNT(*) OVER ()" in sql]


def test_filtered_attachments_count_the_filtered_list_after_a_cursor(client, acme):
    made = inbox_of_four(acme)
    cancel_workflow(obj=made[0].request, user=acme.user("requester"), reason="No")
    token = warm_token(client, acme.user("requester"))

    def page(**variables):
        body = graphql(client, ATTACHMENTS, variables, token=token)
        assert "errors" not in body, body
        return body["data"]["workflowAttachments"]

    running = page(status=["IN_PROGRESS"], first=2)
    rest = page(status=["IN_PROGRESS"], first=2, after=running["pageInfo"]["endCursor"])
    everything = page(first=1)

    assert (running["totalCount"], rest["totalCount"], len(rest["edges"])) == (3, 3, 1)
    assert everything["totalCount"] == 4


@pytest.mark.parametrize("distinct", [False, True])
def test_keyset_page_total_matches_count_with_and_without_distinct(acme, distinct):
    inbox_of_four(acme)
    queryset = WorkflowAttachment.objects.filter(company=acme.company).order_by("-id")
    if distinct:
        # A join that repeats each attachment once per stage of its workflow, made distinct again.
        queryset = queryset.filter(workflow__pipelines__stages__isnull=False).distinct()
    page, info = keyset_page(
        queryset, before=None, after=None, first=2, last=None, max_results=100, with_total=True
    )

    assert info["total"] == queryset.count() == 4
    assert len(page) == 2


CURL_INBOX = (
    "{ myPendingApprovals(first: 10) { totalCount edges { node { id currentStage { id nameEn } "
    "target { display } availableActions } } } }"
)
# The token; the root resolver, its queryset hook, the page and its total; then the business
# objects, the open steps and the viewer's permissions, together (schema.resolution.SharedHops).
CURL_INBOX_THREAD_HOPS = 3


def test_the_inbox_resolver_hook_and_page_share_one_thread_hop(client, acme):
    inbox_of_four(acme)
    token = warm_token(client, acme.user("employee"))

    measured = counted_after_warm_up(client, CURL_INBOX, token=token)

    edges = measured.body["data"]["myPendingApprovals"]["edges"]
    assert len(edges) == 4 and all(edge["node"]["availableActions"] for edge in edges)
    assert measured.thread_hops == CURL_INBOX_THREAD_HOPS


def test_an_error_of_a_deferred_root_resolver_still_reaches_the_client(client, acme):
    body = graphql(client, CURL_INBOX)  # no token

    assert body["data"]["myPendingApprovals"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
