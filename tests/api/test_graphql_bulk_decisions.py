"""approveStages / rejectStages through GraphQL: one result per item, each its own transaction."""

from __future__ import annotations

import pytest

from backend.workflows.constants import AttachmentStatus
from tests.api.test_graphql_query_counts import _listing, run_counted, warm_token
from tests.support.database_state import attachment_state, database_state, event_types
from tests.support.helpers import global_id, graphql
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db

RESULTS = """
    results {
      index attachmentId
      attachment { id status currentStage { nameEn } }
      error { code field message }
    }
    error { code field message }
"""

APPROVE = "mutation($input: ApproveStagesInput!) { approveStages(input: $input) {" + RESULTS + "} }"
REJECT = "mutation($input: RejectStagesInput!) { rejectStages(input: $input) {" + RESULTS + "} }"


def waiting(scenario, count: int, approver: str = "employee"):
    """Return ``count`` attachments waiting at "Step" for ``approver``."""
    workflow = two_stage_workflow(scenario, user_approval(scenario.user(approver)))
    return [attached_request(scenario, workflow, title=f"Request {n}")[1] for n in range(count)]


def item(attachment, **fields):
    return {
        "attachmentId": global_id("WorkflowAttachment", attachment.pk),
        "expectedStageId": global_id("Stage", attachment.current_stage_id),
        **fields,
    }


def test_valid_items_are_approved_and_each_invalid_one_gets_its_error(client, acme, globex):
    # given: two requests for the employee, one for the CFO, one of another company
    mine = waiting(acme, 3)
    not_mine = waiting(acme, 1, approver="cfo")[0]
    foreign = waiting(globex, 1)[0]
    stale = mine[2]
    after = stale.workflow.pipelines.get().stages.get(name_en="After")
    untouched = {a.pk: (attachment_state(a), event_types(a)) for a in (not_mine, foreign, stale)}

    # when
    body = graphql(
        client,
        APPROVE,
        {
            "input": {
                "items": [
                    item(mine[0], comment="Fine"),
                    item(not_mine),
                    item(foreign),
                    item(stale, expectedStageId=global_id("Stage", after.pk)),
                    {"attachmentId": global_id("Stage", 1)},
                    item(mine[1]),
                ]
            }
        },
        user=acme.user("employee"),
    )

    # then: one result per item, in order
    payload = body["data"]["approveStages"]
    assert payload["error"] is None
    results = payload["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4, 5]
    assert [r["attachmentId"] for r in results] == [
        global_id("WorkflowAttachment", a.pk) for a in (mine[0], not_mine, foreign, stale)
    ] + [global_id("Stage", 1), global_id("WorkflowAttachment", mine[1].pk)]
    assert [(r["error"] or {}).get("code") for r in results] == [
        None,
        "NOT_AN_APPROVER",
        "NOT_FOUND",
        "CONFLICT",
        "NOT_FOUND",
        None,
    ]
    assert results[2]["error"]["field"] == "attachmentId"
    assert results[4]["error"] == {
        "code": "NOT_FOUND",
        "field": "attachmentId",
        "message": "Workflow attachment not found.",
    }
    assert [r["attachment"] for r in results if r["error"]] == [None] * 4
    assert [r["attachment"]["currentStage"]["nameEn"] for r in results if not r["error"]] == [
        "After",
        "After",
    ]
    # the valid ones are committed; the refused ones did not change at all
    assert attachment_state(mine[0]) == (AttachmentStatus.IN_PROGRESS, "Main", "After")
    assert attachment_state(mine[1]) == (AttachmentStatus.IN_PROGRESS, "Main", "After")
    assert {
        a.pk: (attachment_state(a), event_types(a)) for a in (not_mine, foreign, stale)
    } == untouched


def test_reject_stages_needs_a_reason_per_item(client, acme):
    # given
    first, second = waiting(acme, 2)

    # when
    body = graphql(
        client,
        REJECT,
        {"input": {"items": [item(first, reason="Too expensive"), item(second, reason=" ")]}},
        user=acme.user("employee"),
    )

    # then
    results = body["data"]["rejectStages"]["results"]
    assert results[0]["attachment"]["status"] == "REJECTED"
    assert results[0]["error"] is None
    assert results[1] == {
        "index": 1,
        "attachmentId": global_id("WorkflowAttachment", second.pk),
        "attachment": None,
        "error": {
            "code": "VALIDATION_ERROR",
            "field": "reason",
            "message": "A reason is required.",
        },
    }
    assert attachment_state(first)[0] == AttachmentStatus.REJECTED
    assert attachment_state(second) == (AttachmentStatus.IN_PROGRESS, "Main", "Step")


@pytest.mark.parametrize(
    ("count", "message"),
    [(101, "Give at most 100 items per call."), (0, "Give at least one item.")],
)
def test_more_than_100_items_or_none_are_refused_and_nothing_is_decided(
    client, acme, count, message
):
    # given
    (attachment,) = waiting(acme, 1)
    before = database_state()

    # when: the one valid attachment, repeated
    body = graphql(
        client,
        APPROVE,
        {"input": {"items": [item(attachment)] * count}},
        user=acme.user("employee"),
    )

    # then
    assert body["data"]["approveStages"] == {
        "results": None,
        "error": {"code": "VALIDATION_ERROR", "field": "items", "message": message},
    }
    assert database_state() == before


def test_anonymous_callers_decide_nothing(client, acme):
    (attachment,) = waiting(acme, 1)
    before = database_state()

    body = graphql(client, APPROVE, {"input": {"items": [item(attachment)]}})

    assert body["data"]["approveStages"]["error"]["code"] == "UNAUTHENTICATED"
    assert database_state() == before


def test_another_company_decides_nothing(client, acme, globex):
    # given: acme's requests, sent by globex's employee
    attachments = waiting(acme, 2)
    before = database_state()

    # when
    body = graphql(
        client,
        REJECT,
        {"input": {"items": [item(a, reason="No") for a in attachments]}},
        user=globex.user("employee"),
    )

    # then
    assert [r["error"]["code"] for r in body["data"]["rejectStages"]["results"]] == [
        "NOT_FOUND",
        "NOT_FOUND",
    ]
    assert database_state() == before


@pytest.mark.parametrize("document", ["approve", "reject"])
def test_each_item_costs_the_same_queries(client, acme, document):
    # given: 1, 2 and 10 requests waiting for the employee
    token = warm_token(client, acme.user("employee"))
    mutation, extra = (APPROVE, {}) if document == "approve" else (REJECT, {"reason": "No"})
    # A first decision fills the per-process caches (ContentType) a running server has.
    run_counted(
        client, mutation, {"input": {"items": [item(waiting(acme, 1)[0], **extra)]}}, token=token
    )
    measured = {}

    # when
    for count in (1, 2, 10):
        attachments = waiting(acme, count)
        measured[count] = run_counted(
            client,
            mutation,
            {"input": {"items": [item(a, **extra) for a in attachments]}},
            token=token,
        )

    # then: every item decided, and every item costs the same number of queries
    for count, run in measured.items():
        field = "approveStages" if document == "approve" else "rejectStages"
        assert [r["error"] for r in run.body["data"][field]["results"]] == [None] * count
    one, two, ten = (len(measured[n].statements) for n in (1, 2, 10))
    per_item = two - one
    print(f"{document}Stages: {one} queries for 1 item, {two} for 2, {ten} for 10")
    assert ten - two == 8 * per_item, "\n".join(
        _listing(f"{n} items", measured[n]) for n in (1, 2, 10)
    )
    # a decision: the lock, the step, its checks and writes, the event; not a query per field
    # (the same on SQLite and PostgreSQL)
    assert per_item == {"approve": 10, "reject": 11}[document], _listing("2 items", measured[2])
