"""Deadlines through GraphQL: dueAt, isOverdue, the overdue filters and the inbox by due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from tests.api.test_graphql_query_counts import (
    REQUEST_OVERHEAD,
    assert_constant_queries,
    counted_after_warm_up,
    run_counted,
    warm_token,
)
from tests.support.helpers import global_id, graphql
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

INBOX = """
query($overdue: Boolean, $first: Int, $after: String) {
  myPendingApprovals(overdue: $overdue, first: $first, after: $after) {
    edges { cursor node { id dueAt isOverdue } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ATTACHMENTS = """
query($overdue: Boolean) {
  workflowAttachments(filter: {overdue: $overdue}, first: 100) {
    edges { node { id dueAt isOverdue status } }
  }
}
"""

ATTACHMENT = "query($id: ID!) { workflowAttachment(id: $id) { dueAt isOverdue } }"


def at(moment: datetime):
    """Freeze ``timezone.now()`` (the engine's clock) at ``moment``."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def started(scenario, *, due_in: str | None, title: str, opened: datetime = T0):
    """Attach a two-stage workflow whose first step (the employee) is due ``due_in`` after opening."""
    extra = {"due_in": due_in} if due_in else {}
    with at(opened):
        workflow = two_stage_workflow(
            scenario, user_approval(scenario.user("employee"), **extra), name=title
        )
        request, attachment = attached_request(scenario, workflow, title=title)
    attachment.title = request.title  # for the tests' own bookkeeping
    attachment.request = request
    return attachment


def inbox_ids(body) -> list[str]:
    return [edge["node"]["id"] for edge in body["data"]["myPendingApprovals"]["edges"]]


def test_due_at_and_is_overdue_follow_the_clock(client, acme):
    # given: a step due two days after it opened
    attachment = started(acme, due_in="P2D", title="Chairs")
    token = warm_token(client, acme.user("employee"))
    variables = {"id": global_id("WorkflowAttachment", attachment.pk)}

    # when / then: before and at the due time
    with at(T0 + timedelta(days=1)):
        before = graphql(client, ATTACHMENT, variables, token=token)
    with at(T0 + timedelta(days=2)):
        due = graphql(client, ATTACHMENT, variables, token=token)
    assert before["data"]["workflowAttachment"] == {
        "dueAt": "2026-03-04T09:00:00+00:00",
        "isOverdue": False,
    }
    assert due["data"]["workflowAttachment"] == {
        "dueAt": "2026-03-04T09:00:00+00:00",
        "isOverdue": True,
    }


def test_a_step_without_deadline_or_a_finished_workflow_has_no_due_time(client, acme):
    from backend.workflows.services import cancel_workflow

    plain = started(acme, due_in=None, title="Desk")
    finished = started(acme, due_in="P1D", title="Lamp")
    cancel_workflow(obj=finished.request, user=acme.user("requester"), reason="No")
    token = warm_token(client, acme.user("employee"))

    with at(T0 + timedelta(days=5)):
        bodies = [
            graphql(client, ATTACHMENT, {"id": global_id("WorkflowAttachment", a.pk)}, token=token)
            for a in (plain, finished)
        ]

    assert [body["data"]["workflowAttachment"] for body in bodies] == [
        {"dueAt": None, "isOverdue": False},
        {"dueAt": None, "isOverdue": False},
    ]


def inbox_of_four(acme):
    """Return attachments (oldest first): due in 3 days, none, due in 1 day, none."""
    return [
        started(acme, due_in="P3D", title="A"),
        started(acme, due_in=None, title="B"),
        started(acme, due_in="P1D", title="C"),
        started(acme, due_in=None, title="D"),
    ]


def test_the_inbox_lists_the_earliest_due_first_then_the_newest(client, acme):
    # given
    a, b, c, d = inbox_of_four(acme)
    token = warm_token(client, acme.user("employee"))

    # when
    with at(T0 + timedelta(days=2)):
        body = graphql(client, INBOX, {}, token=token)

    # then: C (due day 1, overdue), A (due day 3), then D and B, newest first
    assert inbox_ids(body) == [global_id("WorkflowAttachment", x.pk) for x in (c, a, d, b)]
    assert [
        (edge["node"]["dueAt"], edge["node"]["isOverdue"])
        for edge in body["data"]["myPendingApprovals"]["edges"]
    ] == [
        ("2026-03-03T09:00:00+00:00", True),
        ("2026-03-05T09:00:00+00:00", False),
        (None, False),
        (None, False),
    ]


def test_inbox_cursors_page_by_due_time_and_stay_stable_when_rows_arrive(client, acme):
    # given: the four requests, paged one at a time
    attachments = inbox_of_four(acme)
    token = warm_token(client, acme.user("employee"))
    seen: list[str] = []
    after = None

    # when: after two pages, a request due on day 2 and one without deadline arrive
    for page in range(4):
        if page == 2:
            attachments.append(started(acme, due_in="P2D", title="E"))
            attachments.append(started(acme, due_in=None, title="F"))
        body = graphql(client, INBOX, {"first": 1, "after": after}, token=token)
        seen.extend(inbox_ids(body))
        after = body["data"]["myPendingApprovals"]["pageInfo"]["endCursor"]
    rest = graphql(client, INBOX, {"first": 100, "after": after}, token=token)

    # then: each page resumes right after the last row seen: E sorts before A, already passed,
    # so it is not listed; F (the newest without deadline) comes before D and B
    names = {global_id("WorkflowAttachment", x.pk): x.title for x in attachments}
    assert [names[item] for item in seen + inbox_ids(rest)] == ["C", "A", "F", "D", "B"]
    assert rest["data"]["myPendingApprovals"]["pageInfo"]["hasNextPage"] is False


BACKWARDS = """
query($before: String) {
  myPendingApprovals(last: 2, before: $before) {
    edges { node { id } }
    pageInfo { hasPreviousPage startCursor }
  }
}
"""


def test_inbox_cursors_page_backwards_by_due_time(client, acme):
    a, b, c, d = inbox_of_four(acme)
    token = warm_token(client, acme.user("employee"))

    last = graphql(client, BACKWARDS, {}, token=token)
    start = last["data"]["myPendingApprovals"]["pageInfo"]["startCursor"]
    earlier = graphql(client, BACKWARDS, {"before": start}, token=token)

    assert inbox_ids(last) == [global_id("WorkflowAttachment", x.pk) for x in (d, b)]
    assert inbox_ids(earlier) == [global_id("WorkflowAttachment", x.pk) for x in (c, a)]
    assert last["data"]["myPendingApprovals"]["pageInfo"]["hasPreviousPage"] is True
    assert earlier["data"]["myPendingApprovals"]["pageInfo"]["hasPreviousPage"] is False


def test_the_overdue_argument_filters_the_inbox(client, acme):
    a, b, c, d = inbox_of_four(acme)
    token = warm_token(client, acme.user("employee"))

    with at(T0 + timedelta(days=2)):
        overdue = graphql(client, INBOX, {"overdue": True}, token=token)
        on_time = graphql(client, INBOX, {"overdue": False}, token=token)

    assert inbox_ids(overdue) == [global_id("WorkflowAttachment", c.pk)]
    assert inbox_ids(on_time) == [global_id("WorkflowAttachment", x.pk) for x in (a, d, b)]


def test_the_overdue_filter_of_attachments(client, acme):
    a, b, c, d = inbox_of_four(acme)
    token = warm_token(client, acme.user("company"))

    with at(T0 + timedelta(days=4)):
        overdue = graphql(client, ATTACHMENTS, {"overdue": True}, token=token)
        on_time = graphql(client, ATTACHMENTS, {"overdue": False}, token=token)

    nodes = overdue["data"]["workflowAttachments"]["edges"]
    assert [edge["node"]["id"] for edge in nodes] == [
        global_id("WorkflowAttachment", x.pk) for x in (c, a)
    ]
    assert all(edge["node"]["isOverdue"] for edge in nodes)
    assert [edge["node"]["id"] for edge in on_time["data"]["workflowAttachments"]["edges"]] == [
        global_id("WorkflowAttachment", x.pk) for x in (d, b)
    ]


def test_another_company_sees_none_of_the_overdue_steps(client, acme, globex):
    inbox_of_four(acme)
    token = warm_token(client, globex.user("company"))
    employee = warm_token(client, globex.user("employee"))

    with at(T0 + timedelta(days=4)):
        attachments = graphql(client, ATTACHMENTS, {"overdue": True}, token=token)
        inbox = graphql(client, INBOX, {"overdue": True}, token=employee)

    assert attachments["data"]["workflowAttachments"]["edges"] == []
    assert inbox["data"]["myPendingApprovals"]["edges"] == []


def test_due_times_cost_the_same_queries_for_1_and_30_inbox_items(client, acme):
    # given
    started(acme, due_in="P1D", title="First")
    token = warm_token(client, acme.user("employee"))

    # when
    with at(T0 + timedelta(days=2)):
        few = counted_after_warm_up(client, INBOX, {"first": 100}, token=token)
    for number in range(29):
        started(acme, due_in="P1D" if number % 2 else None, title=f"More {number}")
    with at(T0 + timedelta(days=2)):
        many = run_counted(client, INBOX, {"first": 100}, token=token)

    # then: the page (its due times ordered in the same query) and the open steps of the page
    assert_constant_queries(few, many, ceiling=REQUEST_OVERHEAD + 2)
    assert len(many.statements) == REQUEST_OVERHEAD + 2
    edges = many.body["data"]["myPendingApprovals"]["edges"]
    assert len(edges) == 30
    assert sum(edge["node"]["isOverdue"] for edge in edges) == 15
