"""approve_stages / reject_stages: one result per item, each item its own transaction."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.workflows.constants import AttachmentStatus, ErrorCode
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.services.bulk import approve_stages, reject_stages
from tests.support.database_state import attachment_state, database_state
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db


def requests_waiting_for(scenario, user, count):
    workflow = two_stage_workflow(scenario, user_approval(user))
    return [attached_request(scenario, workflow)[1] for _ in range(count)]


def test_100_items_with_some_invalid_give_per_item_results_and_keep_the_valid_ones(acme, globex):
    # given: 94 attachments waiting for the employee, and 6 items that cannot be decided
    waiting = requests_waiting_for(acme, acme.user("employee"), 94)
    not_mine = requests_waiting_for(acme, acme.user("budget_manager1"), 1)[0]
    foreign = requests_waiting_for(globex, globex.user("employee"), 1)[0]
    spare = requests_waiting_for(acme, acme.user("employee"), 3)
    items = [
        {"attachment_id": a.pk, "expected_stage": a.current_stage_id, "comment": "ok"}
        for a in waiting
    ]
    items[10:10] = [{"attachment_id": not_mine.pk}]
    items[20:20] = [{"attachment_id": foreign.pk}]
    items[30:30] = [{"attachment_id": "nope"}]
    items[40:40] = [
        {"attachment_id": spare[0].pk, "expected_stage": spare[0].current_stage_id + 999}
    ]
    items[50:50] = [{"attachment_id": spare[1].pk, "colour": "red"}]
    items[60:60] = [{"attachment_id": spare[2].pk, "form_data": "not an object"}]
    assert len(items) == 100

    # when
    results = approve_stages(items=items, user=acme.user("employee"))

    # then: one result per item, in order
    assert [r.index for r in results] == list(range(100))
    failures = {r.index: (r.error.code, r.error.message) for r in results if not r.ok}
    assert failures == {
        10: (ErrorCode.NOT_AN_APPROVER, "You are not an approver of the current stage."),
        20: (ErrorCode.NOT_FOUND, "Workflow attachment not found."),
        30: (ErrorCode.NOT_FOUND, "Workflow attachment not found."),
        40: (
            ErrorCode.CONFLICT,
            "This step has already been decided or is no longer waiting for you; "
            "reload the workflow and try again.",
        ),
        50: (ErrorCode.VALIDATION_ERROR, "Unknown item keys: colour."),
        60: (ErrorCode.VALIDATION_ERROR, "form_data must be an object."),
    }
    # the 94 valid items are committed: every waiting attachment moved to "After"
    assert [attachment_state(a)[2] for a in waiting] == ["After"] * 94
    assert attachment_state(not_mine)[2] == "Step"
    assert attachment_state(foreign)[2] == "Step"
    assert [attachment_state(a)[2] for a in spare] == ["Step"] * 3


def test_reject_stages_needs_a_reason_per_item(acme):
    first, second = requests_waiting_for(acme, acme.user("employee"), 2)
    results = reject_stages(
        items=[
            {"attachment_id": first.pk, "reason": "Too expensive"},
            {"attachment_id": second.pk, "reason": ""},
        ],
        user=acme.user("employee"),
    )
    assert [(r.ok, r.error and r.error.message) for r in results] == [
        (True, None),
        (False, "A reason is required."),
    ]
    assert attachment_state(first)[0] == AttachmentStatus.REJECTED
    assert attachment_state(second)[0] == AttachmentStatus.IN_PROGRESS


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "Give at least one item."),
        ("x", "items must be a list."),
        ([{"attachment_id": 1}] * 101, "Give at most 100 items per call."),
    ],
)
def test_a_bad_item_list_decides_nothing(acme, items, message):
    requests_waiting_for(acme, acme.user("employee"), 1)
    before = database_state()
    with pytest.raises(WorkflowValidationError) as raised:
        approve_stages(items=items, user=acme.user("employee"))
    assert (raised.value.field, raised.value.message) == ("items", message)
    assert database_state() == before


def _queries(acme, count):
    attachments = requests_waiting_for(acme, acme.user("employee"), count)
    items = [{"attachment_id": a.pk, "expected_stage": a.current_stage_id} for a in attachments]
    user = type(acme.user("employee")).objects.get(pk=acme.user("employee").pk)
    with CaptureQueriesContext(connection) as context:
        results = approve_stages(items=items, user=user)
    assert all(r.ok for r in results)
    return len(context.captured_queries)


def test_each_item_costs_the_same_queries(acme):
    one, two, ten = _queries(acme, 1), _queries(acme, 2), _queries(acme, 10)
    per_item = two - one
    assert per_item > 0
    assert ten == one + 9 * per_item, (one, two, ten)
