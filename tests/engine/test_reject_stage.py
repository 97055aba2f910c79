"""reject_stage: the workflow ends at the rejecting stage and the object is denied."""

from __future__ import annotations

import pytest

from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import (
    InvalidStateError,
    NotAnApproverError,
    NotFoundError,
    WorkflowValidationError,
)
from backend.workflows.models import WorkflowEvent
from backend.workflows.services import approve_stage, reject_stage
from tests.support.database_state import approval_rows, attachment_state, database_state
from tests.support.purchase_steps import FORM_DATA, start_purchase_request

pytestmark = pytest.mark.django_db


def test_reject_stage_ends_the_workflow_at_the_rejecting_stage(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    # when
    result = reject_stage(obj=request, user=acme.user("budget_manager2"), reason="  Over budget  ")

    # then
    assert result.pk == attachment.pk
    assert attachment_state(attachment) == (
        AttachmentStatus.REJECTED,
        "Finance Review",
        "Budget Approval",
    )
    attachment.refresh_from_db()
    assert attachment.completed_at is not None
    assert attachment.metadata == {
        "rejection_reason": "Over budget",
        "rejected_by": acme.user("budget_manager2").pk,
    }
    request.refresh_from_db()
    assert request.workflow_status == "denied"
    event = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (event.event_type, event.actor, event.reason, event.from_stage.name_en) == (
        EventType.REJECTED,
        acme.user("budget_manager2"),
        "Over budget",
        "Budget Approval",
    )
    # the rejecting row is kept; the other member's open share is gone and nothing is open
    assert approval_rows(attachment)[1:] == [
        (2, "rejected", "acme-budget_manager2", "Budget Approval")
    ]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reject_stage_requires_a_reason(acme, reason):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        reject_stage(obj=request, user=acme.user("budget_manager1"), reason=reason)

    assert (raised.value.code, raised.value.field, raised.value.message) == (
        ErrorCode.VALIDATION_ERROR,
        "reason",
        "A reason is required.",
    )
    assert database_state() == before


def test_reject_stage_reason_longer_than_5000_characters_is_refused(acme):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        reject_stage(obj=request, user=acme.user("budget_manager1"), reason="x" * 5001)

    assert (raised.value.field, raised.value.message) == (
        "reason",
        "The reason is longer than 5000 characters.",
    )
    assert database_state() == before


@pytest.mark.parametrize(
    ("actor", "error_class", "code"),
    [
        ("employee", NotAnApproverError, ErrorCode.NOT_AN_APPROVER),
        ("requester", NotAnApproverError, ErrorCode.NOT_AN_APPROVER),
        ("globex budget manager", NotFoundError, ErrorCode.NOT_FOUND),
    ],
)
def test_reject_stage_by_someone_who_is_not_an_approver_changes_nothing(
    acme, globex, actor, error_class, code
):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    user = globex.user("budget_manager1") if actor == "globex budget manager" else acme.user(actor)
    before = database_state()

    with pytest.raises(error_class) as raised:
        reject_stage(obj=request, user=user, reason="No")

    assert raised.value.code == code
    assert database_state() == before


def test_a_rejected_workflow_takes_no_further_decisions(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    reject_stage(obj=request, user=acme.user("budget_manager1"), reason="No")
    before = database_state()

    # when / then
    with pytest.raises(InvalidStateError) as raised:
        approve_stage(
            obj=request, user=acme.user("budget_manager2"), form_data=FORM_DATA["Budget Approval"]
        )
    assert raised.value.message == "The workflow is rejected; this action is not possible now."
    with pytest.raises(InvalidStateError):
        reject_stage(obj=request, user=acme.user("budget_manager1"), reason="Again")
    assert database_state() == before


def test_one_executive_rejecting_ends_a_consensus_stage(acme):
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    approve_stage(obj=request, user=acme.user("executive1"))

    reject_stage(obj=request, user=acme.user("executive2"), reason="Not this year")

    assert attachment_state(attachment) == (
        AttachmentStatus.REJECTED,
        "Executive Approval",
        "Executive Approval",
    )
    assert [row[1:3] for row in approval_rows(attachment)[-2:]] == [
        ("approved", "acme-executive1"),
        ("rejected", "acme-executive2"),
    ]
    request.refresh_from_db()
    assert request.workflow_status == "denied"
