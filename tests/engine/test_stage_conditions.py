"""Conditional stages: a stage whose condition is false when it would open is skipped."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backend.demo.models import PurchaseRequest
from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import WorkflowEvent
from backend.workflows.selectors import compute_progress, get_workflow_progress, ordered_stages
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    create_workflow,
    request_resubmission,
)
from tests.support.database_state import attachment_state, database_state, event_types
from tests.support.helpers import make_purchase_request
from tests.support.purchase_steps import approve_current_stage, start_purchase_request
from tests.support.workflow_builders import user_approval

pytestmark = pytest.mark.django_db


def progress(attachment):
    attachment.refresh_from_db()
    result = compute_progress(attachment, ordered_stages(attachment.workflow_id))
    return result.completed_stages, result.total_stages, result.percentage


def test_a_request_below_10000_skips_executive_approval(acme):
    # given
    request, attachment = start_purchase_request(
        acme, at_stage="Final Finance Sign-off", amount="2500.00"
    )
    assert progress(attachment) == (2, 4, 50.0)

    # when
    approve_current_stage(attachment, request)

    # then the Executive Approval pipeline (its only stage) is skipped and the request completes
    assert attachment_state(attachment) == (AttachmentStatus.COMPLETED, None, None)
    assert event_types(attachment)[-3:] == [
        EventType.APPROVED,
        EventType.STAGE_SKIPPED,
        EventType.COMPLETED,
    ]
    skipped = WorkflowEvent.objects.get(attachment=attachment, event_type=EventType.STAGE_SKIPPED)
    assert (skipped.to_stage.name_en, skipped.to_pipeline.name_en, skipped.details) == (
        "Executive Approval",
        "Executive Approval",
        {"condition": {"amount__gte": 10000}},
    )
    assert progress(attachment) == (3, 3, 100.0)
    assert get_workflow_progress(None, request)["progress_percentage"] == 100.0


def test_a_request_from_10000_goes_to_executive_approval(acme):
    request, attachment = start_purchase_request(
        acme, at_stage="Executive Approval", amount="10000.00"
    )
    assert EventType.STAGE_SKIPPED not in event_types(attachment)
    assert progress(attachment) == (3, 4, 75.0)


def test_the_condition_reads_the_object_when_the_stage_would_open(acme):
    # given: attached at 12,500 (the condition held then)
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")

    # when: the amount drops before Executive Approval would open
    PurchaseRequest.objects.filter(pk=request.pk).update(amount=Decimal("900.00"))
    approve_current_stage(attachment, request)

    # then
    assert attachment_state(attachment)[0] == AttachmentStatus.COMPLETED
    assert EventType.STAGE_SKIPPED in event_types(attachment)


def _three_stages(acme, condition):
    return create_workflow(
        company=acme.company,
        name_en="Conditional",
        created_by=acme.company,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [
                    {"name_en": "One", "approvals": [user_approval(acme.user("employee"))]},
                    {
                        "name_en": "Two",
                        "approvals": [user_approval(acme.user("budget_manager1"))],
                        "condition": condition,
                    },
                    {"name_en": "Three", "approvals": [user_approval(acme.user("cfo"))]},
                ],
            }
        ],
    )


def test_a_skipped_middle_stage_is_in_history_and_out_of_progress(acme):
    workflow = _three_stages(acme, {"amount__gte": 50000, "title__startswith": "Big"})
    request = make_purchase_request(acme, title="Big laptops")
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=acme.user("requester")
    )

    approve_stage(obj=request, user=acme.user("employee"))

    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "Three")
    assert event_types(attachment) == [
        EventType.ATTACHED,
        EventType.STARTED,
        EventType.APPROVED,
        EventType.STAGE_SKIPPED,
        EventType.STAGE_MOVED,
    ]
    assert progress(attachment) == (1, 2, 50.0)


def test_a_first_stage_that_does_not_apply_is_skipped_at_start(acme):
    workflow = create_workflow(
        company=acme.company,
        name_en="First conditional",
        created_by=acme.company,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [
                    {
                        "name_en": "One",
                        "approvals": [user_approval(acme.user("employee"))],
                        "condition": {"amount__lt": 100},
                    },
                    {"name_en": "Two", "approvals": [user_approval(acme.user("cfo"))]},
                ],
            }
        ],
    )
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=acme.user("requester")
    )
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "Two")
    assert event_types(attachment) == [
        EventType.ATTACHED,
        EventType.STARTED,
        EventType.STAGE_SKIPPED,
    ]
    assert progress(attachment) == (0, 1, 0.0)


def test_a_workflow_whose_every_stage_is_skipped_cannot_start(acme):
    workflow = _three_stages(acme, None)
    for stage in ordered_stages(workflow.pk):
        stage.condition = {"amount__lt": 1}
        stage.save()
    request = make_purchase_request(acme)
    before = database_state()
    with pytest.raises(WorkflowValidationError) as raised:
        attach_workflow_to_object(obj=request, workflow=workflow, user=acme.user("requester"))
    assert (raised.value.code, raised.value.message, raised.value.field) == (
        ErrorCode.VALIDATION_ERROR,
        "No stage of this workflow applies to this object: every stage's condition is false.",
        "workflowId",
    )
    assert database_state() == before


def test_resubmission_reads_the_conditions_again(acme):
    workflow = _three_stages(acme, {"amount__gte": 50000})
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=acme.user("requester")
    )
    approve_stage(obj=request, user=acme.user("employee"))
    assert attachment_state(attachment)[2] == "Three"

    PurchaseRequest.objects.filter(pk=request.pk).update(amount=Decimal("60000"))
    first = ordered_stages(attachment.workflow_id)[0]
    request_resubmission(obj=request, user=acme.user("cfo"), stage=first.pk, reason="Redo")
    approve_stage(obj=request, user=acme.user("employee"))

    assert attachment_state(attachment)[2] == "Two"
    assert progress(attachment) == (1, 3, 33.33)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("amount > 5", 'A condition is an object of Django lookups, e.g. {"amount__gte": 10000}.'),
        ({"amount; drop": 1}, "'amount; drop' is not a field lookup."),
        (
            {"amount__gte": {"nested": 1}},
            "The value of 'amount__gte' must be a string, number, boolean, null or a list of them.",
        ),
    ],
)
def test_a_malformed_condition_is_refused(acme, condition, message):
    before = database_state()
    with pytest.raises(WorkflowValidationError) as raised:
        _three_stages(acme, condition)
    assert (raised.value.field, raised.value.message) == (
        "pipelines[0].stages[1].condition",
        message,
    )
    assert database_state() == before


def test_a_condition_on_an_unknown_field_applies_the_stage(acme):
    workflow = _three_stages(acme, {"no_such_field": 1})
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=acme.user("requester")
    )
    approve_stage(obj=request, user=acme.user("employee"))
    assert attachment_state(attachment)[2] == "Two"
