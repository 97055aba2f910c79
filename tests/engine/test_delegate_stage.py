"""delegate_stage: hand a share of the current step to another user of the same company."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import (
    NotAnApproverError,
    NotFoundError,
    WorkflowValidationError,
)
from backend.workflows.models import CompanyMembership, WorkflowEvent
from backend.workflows.services import approve_stage, delegate_stage, reject_stage
from tests.support.database_state import (
    approval_rows,
    attachment_state,
    database_state,
    event_types,
)
from tests.support.helpers import approvers_of
from tests.support.purchase_steps import FORM_DATA, start_purchase_request
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db


def test_delegate_stage_hands_the_share_to_the_delegate(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    # when
    delegate_stage(
        obj=request,
        user=acme.user("budget_manager1"),
        to_user=acme.user("employee"),
        reason="On leave",
    )

    # then
    assert approvers_of(attachment) == ["acme-budget_manager2", "acme-employee"]
    event = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (event.event_type, event.actor, event.delegate, event.reason) == (
        EventType.DELEGATED,
        acme.user("budget_manager1"),
        acme.user("employee"),
        "On leave",
    )
    assert attachment_state(attachment)[2] == "Budget Approval"

    # the delegator can no longer act: they are not an approver of the step any more
    before = database_state()
    with pytest.raises(NotAnApproverError) as raised:
        approve_stage(
            obj=request, user=acme.user("budget_manager1"), form_data=FORM_DATA["Budget Approval"]
        )
    assert raised.value.message == "You are not an approver of the current stage."
    assert database_state() == before

    # the delegate can, and the stage advances
    approve_stage(obj=request, user=acme.user("employee"), form_data=FORM_DATA["Budget Approval"])
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Final Finance Sign-off",
    )
    assert approval_rows(attachment)[1:] == [
        (2, "delegated", "acme-budget_manager1", "Budget Approval"),
        (2, "approved", "acme-employee", "Budget Approval"),
        (3, "current", "acme-cfo", "Final Finance Sign-off"),
    ]


def test_delegate_stage_accepts_a_user_id(acme):
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")

    delegate_stage(obj=request, user=acme.user("cfo"), to_user=str(acme.user("employee").pk))

    assert approvers_of(attachment) == ["acme-employee"]
    approve_stage(
        obj=request, user=acme.user("employee"), form_data=FORM_DATA["Final Finance Sign-off"]
    )
    assert attachment_state(attachment)[1:] == ("Executive Approval", "Executive Approval")


def test_delegating_a_consensus_share_keeps_consensus(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    delegate_stage(obj=request, user=acme.user("executive1"), to_user=acme.user("employee"))

    # when: the delegate approves
    approve_stage(obj=request, user=acme.user("employee"))

    # then: the other executive must still approve
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Executive Approval",
        "Executive Approval",
    )
    assert approvers_of(attachment) == ["acme-executive2"]

    approve_stage(obj=request, user=acme.user("executive2"))
    assert attachment_state(attachment) == (AttachmentStatus.COMPLETED, None, None)


def test_delegating_a_round_robin_share_lets_the_delegate_finish_it(acme):
    request, attachment = start_purchase_request(acme)
    delegate_stage(obj=request, user=acme.user("finance_reviewer1"), to_user=acme.user("employee"))

    approve_stage(obj=request, user=acme.user("employee"), form_data=FORM_DATA["Initial Review"])

    assert attachment_state(attachment)[2] == "Budget Approval"
    assert approvers_of(attachment) == ["acme-budget_manager1", "acme-budget_manager2"]


def test_a_delegate_checks_in_again_on_a_check_in_verify_step(acme):
    # given: the employee checked in, then delegated to the CFO
    workflow = two_stage_workflow(
        acme, user_approval(acme.user("employee"), behaviour="check_in_verify")
    )
    request, attachment = attached_request(acme, workflow)
    approve_stage(obj=request, user=acme.user("employee"))
    delegate_stage(obj=request, user=acme.user("employee"), to_user=acme.user("cfo"))

    # when: the delegate's first approval
    approve_stage(obj=request, user=acme.user("cfo"))

    # then: it is their check-in; the second one advances
    assert attachment_state(attachment)[2] == "Step"
    approve_stage(obj=request, user=acme.user("cfo"))
    assert attachment_state(attachment)[2] == "After"
    assert event_types(attachment) == [
        EventType.ATTACHED,
        EventType.STARTED,
        EventType.CHECKED_IN,
        EventType.DELEGATED,
        EventType.CHECKED_IN,
        EventType.APPROVED,
        EventType.STAGE_MOVED,
    ]


def test_delegate_can_reject(acme):
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")
    delegate_stage(obj=request, user=acme.user("cfo"), to_user=acme.user("employee"))

    reject_stage(obj=request, user=acme.user("employee"), reason="Missing quote")

    assert attachment_state(attachment) == (
        AttachmentStatus.REJECTED,
        "Finance Review",
        "Final Finance Sign-off",
    )


def test_delegate_stage_to_a_user_of_another_company_is_not_found(acme, globex):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    with pytest.raises(NotFoundError) as raised:
        delegate_stage(
            obj=request, user=acme.user("budget_manager1"), to_user=globex.user("employee")
        )

    assert (raised.value.code, raised.value.field, raised.value.message) == (
        ErrorCode.NOT_FOUND,
        "toUserId",
        "User not found.",
    )
    assert database_state() == before


@pytest.mark.parametrize("to_user", [0, 999_999, "not-an-id", None])
def test_delegate_stage_to_an_unknown_user_is_not_found(acme, to_user):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    with pytest.raises(NotFoundError) as raised:
        delegate_stage(obj=request, user=acme.user("budget_manager1"), to_user=to_user)

    assert (raised.value.field, raised.value.message) == ("toUserId", "User not found.")
    assert database_state() == before


def test_delegate_stage_to_an_invalid_delegate_is_refused(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    inactive = get_user_model().objects.create(username="acme-former", is_active=False)
    CompanyMembership.objects.create(user=inactive, company=acme.company)
    before = database_state()
    cases = [
        (inactive, "The delegate is not an active user."),
        (acme.user("budget_manager1"), "You cannot delegate a step to yourself."),
        (acme.user("budget_manager2"), "This user already has a share of the current step."),
    ]

    for to_user, message in cases:
        # when
        with pytest.raises(WorkflowValidationError) as raised:
            delegate_stage(obj=request, user=acme.user("budget_manager1"), to_user=to_user)

        # then
        assert (raised.value.code, raised.value.field, raised.value.message) == (
            ErrorCode.VALIDATION_ERROR,
            "toUserId",
            message,
        )
        assert database_state() == before


@pytest.mark.parametrize(
    ("actor", "error_class"),
    [("employee", NotAnApproverError), ("globex", NotFoundError)],
)
def test_delegate_stage_by_someone_who_is_not_an_approver_changes_nothing(
    acme, globex, actor, error_class
):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    user = globex.user("budget_manager1") if actor == "globex" else acme.user(actor)
    before = database_state()

    with pytest.raises(error_class):
        delegate_stage(obj=request, user=user, to_user=acme.user("cfo"))

    assert database_state() == before


def test_a_delegation_writes_only_the_attachments_updated_at(acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.workflows.models import WorkflowAttachment

    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    columns = [f.attname for f in WorkflowAttachment._meta.concrete_fields]
    before = WorkflowAttachment.objects.filter(pk=attachment.pk).values(*columns).get()

    with CaptureQueriesContext(connection) as captured:
        delegate_stage(
            obj=request, user=acme.user("budget_manager1"), to_user=acme.user("employee")
        )

    updates = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("UPDATE")
        and "workflows_workflowattachment" in q["sql"].split(" SET ")[0]
    ]
    assert len(updates) == 1
    assert updates[0].split(" SET ")[1].split(" WHERE ")[0].count(" = ") == 1  # updated_at
    after = WorkflowAttachment.objects.filter(pk=attachment.pk).values(*columns).get()
    assert after.pop("updated_at") > before.pop("updated_at")
    assert after == before
