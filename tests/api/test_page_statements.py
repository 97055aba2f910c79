"""The inbox's first page through a compiled statement: the same answers as the ORM, per viewer.

``schema/execution/page_statements.py`` compiles a root connection's first page once per
document and binds each request's values. Every answer here is compared with the ORM's
path (the plan turned off), with the same queries, and a plan never carries one viewer's
values to another.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest

from backend.workflows import selectors
from backend.workflows.models import WorkflowAttachment
from schema.execution import page_statements
from schema.execution.page_statements import PageRows
from tests.api.test_graphql_query_counts import attached_requests, run_counted, warm_token
from tests.benchmarks.bench_small_requests import INBOX, INBOX_CURL
from tests.support.helpers import graphql
from tests.support.purchase_steps import current_approvers

pytestmark = pytest.mark.django_db

PAGED = """
query($first: Int, $last: Int) {
  myPendingApprovals(first: $first, last: $last) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id databaseId status dueAt isOverdue currentStage { id nameEn }
      target { display } availableActions } }
  }
}
"""
WITHOUT_TOTAL = "{ myPendingApprovals(first: 2) { edges { cursor node { id } } } }"
DOCUMENTS = [
    (INBOX, None),
    (INBOX_CURL, None),
    (WITHOUT_TOTAL, None),
    (PAGED, {"first": 0}),
    (PAGED, {"first": 1}),
    (PAGED, {"first": 3, "last": 2}),
    (PAGED, {"first": 100}),
    (PAGED, {}),
]


@pytest.fixture(autouse=True)
def _no_plans_from_other_tests():
    page_statements.clear_plans()
    yield
    page_statements.clear_plans()


def _without_plans() -> Any:
    return patch("schema.execution.pagination.first_page", return_value=None)


def _answer(client: Any, document: str, variables: dict[str, Any] | None, token: str) -> Any:
    body = graphql(client, document, variables, token=token)
    assert "errors" not in body, body
    return body


def _plans() -> int:
    return sum(plan is not None for plan in page_statements._plans.values())


@pytest.mark.parametrize(("document", "variables"), DOCUMENTS)
def test_a_planned_page_answers_what_the_orm_answers(client, acme, document, variables):
    # given: five requests waiting for the budget managers, one more for a reviewer
    attached_requests(acme, 5, mixed=False)
    attached_requests(acme, 1, mixed=True)
    token = warm_token(client, acme.user("budget_manager1"))
    with _without_plans():
        expected = run_counted(client, document, variables, token=token)

    # when: the plan is made, then used
    first = run_counted(client, document, variables, token=token)
    again = run_counted(client, document, variables, token=token)

    # then
    assert _plans() == 1
    assert first.body == again.body == expected.body
    assert len(again.statements) == len(first.statements) == len(expected.statements)


def test_a_plan_is_made_once_and_serves_every_viewer_their_own_inbox(client, acme, globex):
    # given: three viewers (two of one company, one of another) with different inboxes
    attached_requests(acme, 3, mixed=False)
    attached_requests(globex, 2, mixed=False)
    made = attached_requests(acme, 1, mixed=True)  # waits for a reviewer
    viewers = [
        acme.user("budget_manager1"),
        globex.user("budget_manager1"),
        current_approvers(made[0][1])[0],
        acme.user("requester"),  # nothing to do
    ]
    tokens = [warm_token(client, viewer) for viewer in viewers]
    with _without_plans():
        expected = [_answer(client, INBOX, None, token) for token in tokens]

    # when: each viewer asks in turn, twice
    answers = [_answer(client, INBOX, None, token) for token in tokens * 2]

    # then: one plan, and each viewer got exactly what the ORM gives them
    assert _plans() == 1
    assert answers == expected * 2
    totals = [answer["data"]["myPendingApprovals"]["totalCount"] for answer in expected]
    assert totals == [3, 2, 1, 0]
    ids = {edge["node"]["id"] for edge in expected[2]["data"]["myPendingApprovals"]["edges"]}
    assert len(ids) == 1 and str(made[0][1].pk) not in ids  # a global id, not the key


def test_a_planned_page_follows_new_rows_and_decisions(client, acme):
    # given: a plan made on two waiting requests
    attached_requests(acme, 2, mixed=False)
    token = warm_token(client, acme.user("budget_manager1"))
    before = _answer(client, PAGED, {"first": 10}, token)

    # when: a third one arrives
    attached_requests(acme, 1, mixed=False)
    after = _answer(client, PAGED, {"first": 10}, token)

    # then
    assert before["data"]["myPendingApprovals"]["totalCount"] == 2
    assert after["data"]["myPendingApprovals"]["totalCount"] == 3
    with _without_plans():
        assert _answer(client, PAGED, {"first": 10}, token) == after


def test_cursors_and_the_overdue_filter_take_the_orm_path(client, acme):
    attached_requests(acme, 3, mixed=False)
    token = warm_token(client, acme.user("budget_manager1"))
    first = _answer(client, PAGED, {"first": 1}, token)
    assert _plans() == 1
    cursor = first["data"]["myPendingApprovals"]["pageInfo"]["endCursor"]
    document = """query($after: String) { myPendingApprovals(first: 1, after: $after) {
      totalCount edges { node { id } } } }"""
    paged = _answer(client, document, {"after": cursor}, token)
    overdue = _answer(
        client, "{ myPendingApprovals(overdue: false, first: 5) { totalCount } }", None, token
    )
    backwards = _answer(client, "{ myPendingApprovals(last: 2) { totalCount } }", None, token)

    assert _plans() == 1
    assert paged["data"]["myPendingApprovals"]["totalCount"] == 3
    assert overdue["data"]["myPendingApprovals"]["totalCount"] == 3
    assert backwards["data"]["myPendingApprovals"]["totalCount"] == 3


class _Info:
    """What ``first_page`` reads of a resolver's info."""

    def __init__(self) -> None:
        self.schema = object()
        self.operation = object()
        self.variable_values: dict[str, Any] = {}

        class _Path:
            @staticmethod
            def as_list() -> list[str]:
                return ["myPendingApprovals"]

        self.path = _Path()


def _rows(user: Any, company_id: int) -> PageRows:
    return PageRows(
        "test", selectors.pending_approvals_by_due_time_of, company_id=company_id, user_id=user.pk
    )


def test_a_hook_that_reads_the_viewer_makes_no_plan(acme):
    # given: a queryset hook adding the viewer's own id (as a type's get_queryset might)
    user = acme.user("budget_manager1")
    rows = _rows(user, acme.company.pk)

    def viewer_hook(queryset: Any) -> Any:
        return queryset.filter(workflow__company_id=acme.company.pk)

    # when
    page = page_statements.first_page(
        rows, viewer_hook, _Info(), size=10, with_total=True, sort_key_of=lambda qs: []
    )

    # then: no plan is kept; the caller reads the page through the ORM
    assert page is None
    assert list(page_statements._plans.values()) == [None]


def test_a_hook_that_uses_the_values_in_a_prefetch_makes_no_plan(acme):
    from django.db.models import Prefetch

    user = acme.user("budget_manager1")
    rows = _rows(user, acme.company.pk)

    def prefetching_hook(queryset: Any) -> Any:
        # The placeholder company id would be frozen into the prefetch: refused.
        company_id = queryset.query.where.children[0].rhs
        return queryset.prefetch_related(
            Prefetch(
                "events",
                queryset=WorkflowAttachment.events.rel.related_model.objects.filter(
                    company_id=company_id
                ),
            )
        )

    page = page_statements.first_page(
        rows, prefetching_hook, _Info(), size=10, with_total=False, sort_key_of=lambda qs: []
    )

    assert page is None


def test_values_the_statements_do_not_support_take_the_orm_path(acme):
    user = acme.user("budget_manager1")
    rows = PageRows(
        "test", selectors.pending_approvals_by_due_time_of, company_id=None, user_id=user.pk
    )

    page = page_statements.first_page(
        rows, lambda qs: qs, _Info(), size=10, with_total=False, sort_key_of=lambda qs: []
    )

    assert page is None
    assert page_statements._plans == {}


def test_a_foreign_key_prefetch_fills_what_djangos_prefetch_fills(acme):
    from django.db.models import Prefetch, prefetch_related_objects

    from backend.workflows.models import Stage

    # given: attachments waiting in stages (several in the same one), one without a stage
    attached = [attachment for _, attachment in attached_requests(acme, 4, mixed=True)]
    attached += [attachment for _, attachment in attached_requests(acme, 2, mixed=False)]
    ids = [attachment.pk for attachment in attached]
    WorkflowAttachment.objects.filter(pk=ids[0]).update(current_stage=None)
    expected = list(WorkflowAttachment.objects.filter(pk__in=ids).order_by("pk"))
    lookup = Prefetch("current_stage", queryset=Stage.objects.order_by("order", "pk"))
    prefetch_related_objects(expected, lookup)
    precompiled = page_statements._ForeignKeyPrefetch.of(WorkflowAttachment, lookup)
    assert precompiled is not None
    rows = list(WorkflowAttachment.objects.filter(pk__in=ids).order_by("pk"))

    # when
    precompiled.run(rows)

    # then: the same related rows, all cached (no query when read)
    stage_of = WorkflowAttachment.current_stage.field
    assert any(row.current_stage_id is None for row in expected)
    assert [stage_of.get_cached_value(row) for row in rows] == [
        stage_of.get_cached_value(row) for row in expected
    ]

    def loaded(row: Any) -> Any:
        stage = stage_of.get_cached_value(row)
        if stage is None:
            return None
        state = (stage._state.db, stage._state.adding)
        return state, {name: value for name, value in vars(stage).items() if name != "_state"}

    assert [loaded(row) for row in rows] == [loaded(row) for row in expected]
    # Rows waiting in the same stage share its object, as with Django's prefetch.
    assert len({id(stage_of.get_cached_value(row)) for row in rows}) == len(
        {id(stage_of.get_cached_value(row)) for row in expected}
    )


def test_prefetches_other_than_a_plain_foreign_key_stay_djangos():
    from django.db.models import Prefetch

    from backend.workflows.models import Stage, WorkflowEvent

    of = page_statements._ForeignKeyPrefetch.of
    assert of(WorkflowAttachment, Prefetch("events", queryset=WorkflowEvent.objects.all())) is None
    assert of(WorkflowAttachment, "current_stage") is None
    stages = Stage.objects.all()
    assert of(WorkflowAttachment, Prefetch("current_stage", stages, to_attr="stage")) is None
    assert of(WorkflowAttachment, Prefetch("current_stage", stages[:1])) is None
    assert of(WorkflowAttachment, Prefetch("current_stage__pipeline")) is None
