"""request_resubmission: send the workflow back to the current or an earlier stage."""

from __future__ import annotations

import pytest

from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import (
    ConflictError,
    NotAnApproverError,
    NotFoundError,
    WorkflowValidationError,
)
from backend.workflows.models import Stage, WorkflowEvent
from backend.workflows.services import approve_stage, request_resubmission
from tests.support.database_state import (
    approval_rows,
    attachment_state,
    database_state,
    event_types,
)
from tests.support.helpers import approvers_of
from tests.support.purchase_steps import FORM_DATA, approve_current_stage, start_purchase_request

pytestmark = pytest.mark.django_db


def clone_stage(attachment, name: str) -> Stage:
    return Stage.objects.get(pipeline__workflow_id=attachment.workflow_id, name_en=name)


def template_stage(scenario, name: str) -> Stage:
    return Stage.objects.get(pipeline__workflow=scenario.workflow, name_en=name)


def test_resubmission_to_the_first_stage_starts_over_and_completes(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")

    # when
    request_resubmission(
        obj=request,
        user=acme.user("cfo"),
        stage=clone_stage(attachment, "Initial Review"),
        reason="Attach the quote",
    )

    # then
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )
    event = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (event.event_type, event.reason, event.from_stage.name_en, event.to_stage.name_en) == (
        EventType.RESUBMISSION_REQUESTED,
        "Attach the quote",
        "Final Finance Sign-off",
        "Initial Review",
    )
    assert approval_rows(attachment) == [
        (1, "approved", "acme-finance_reviewer1", "Initial Review"),
        (2, "approved", "acme-budget_manager1", "Budget Approval"),
        (3, "resubmission", "acme-cfo", "Final Finance Sign-off"),
        # round robin: reviewer 1 already had a row, so reviewer 2 reviews this time
        (4, "current", "acme-finance_reviewer2", "Initial Review"),
    ]

    # when: every stage is approved again
    for expected_stage in (
        "Initial Review",
        "Budget Approval",
        "Final Finance Sign-off",
        "Executive Approval",
    ):
        assert attachment_state(attachment)[2] == expected_stage
        approve_current_stage(attachment, request)

    # then
    assert attachment_state(attachment) == (AttachmentStatus.COMPLETED, None, None)
    request.refresh_from_db()
    assert request.workflow_status == "approved"
    assert event_types(attachment).count(EventType.COMPLETED) == 1


def test_after_a_resubmission_the_sender_has_nothing_to_decide(acme):
    # given: the CFO sent the request back to Initial Review
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")
    request_resubmission(
        obj=request,
        user=acme.user("cfo"),
        stage=clone_stage(attachment, "Initial Review"),
        reason="Redo",
    )
    before = database_state()

    # when: the CFO approves from a stale page (it names the step the CFO saw)
    with pytest.raises(ConflictError) as raised:
        approve_stage(
            obj=request,
            user=acme.user("cfo"),
            form_data=FORM_DATA["Final Finance Sign-off"],
            expected_stage=clone_stage(attachment, "Final Finance Sign-off"),
        )

    # then
    assert raised.value.code == ErrorCode.CONFLICT
    assert database_state() == before


def test_resubmission_accepts_the_template_stage_the_clone_was_made_from(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")
    template = template_stage(acme, "Budget Approval")

    # when
    request_resubmission(obj=request, user=acme.user("cfo"), stage=template.pk, reason="Recheck")

    # then: the running copy of that stage is current, not the template
    attachment.refresh_from_db()
    assert attachment.current_stage_id == clone_stage(attachment, "Budget Approval").pk
    assert attachment.current_stage.cloned_from_id == template.pk
    assert approvers_of(attachment) == ["acme-budget_manager1", "acme-budget_manager2"]
    approve_stage(
        obj=request, user=acme.user("budget_manager2"), form_data=FORM_DATA["Budget Approval"]
    )
    assert attachment_state(attachment)[2] == "Final Finance Sign-off"


def test_resubmission_to_the_current_stage_reopens_it(acme):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    request_resubmission(
        obj=request,
        user=acme.user("budget_manager1"),
        stage=clone_stage(attachment, "Budget Approval"),
        reason="Wrong amount",
    )

    assert attachment_state(attachment)[2] == "Budget Approval"
    assert approval_rows(attachment)[1:] == [
        (2, "resubmission", "acme-budget_manager1", "Budget Approval"),
        (2, "cancelled", "acme-budget_manager2", "Budget Approval"),
        (3, "current", "acme-budget_manager1", "Budget Approval"),
        (3, "current", "acme-budget_manager2", "Budget Approval"),
    ]


def test_resubmission_from_a_consensus_stage_cancels_every_open_share(acme):
    # given: one executive approved, the other sends it back
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    approve_stage(obj=request, user=acme.user("executive1"))

    # when
    request_resubmission(
        obj=request,
        user=acme.user("executive2"),
        stage=clone_stage(attachment, "Budget Approval"),
        reason="Lower the amount",
    )

    # then: only the budget managers can act; Executive Approval runs afresh later
    assert attachment_state(attachment)[1:] == ("Finance Review", "Budget Approval")
    assert approvers_of(attachment) == ["acme-budget_manager1", "acme-budget_manager2"]
    approve_current_stage(attachment, request)
    approve_current_stage(attachment, request)
    assert attachment_state(attachment)[2] == "Executive Approval"
    approve_stage(obj=request, user=acme.user("executive1"))
    assert attachment_state(attachment)[0] == AttachmentStatus.IN_PROGRESS
    approve_stage(obj=request, user=acme.user("executive2"))
    assert attachment_state(attachment)[0] == AttachmentStatus.COMPLETED


def test_resubmission_to_a_stage_of_another_workflow_is_not_found(acme, globex):
    # given: a second Acme request gives another running copy of the same template
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    _, other_attachment = start_purchase_request(acme, title="Other")
    foreign_stages = [
        clone_stage(other_attachment, "Initial Review"),
        template_stage(globex, "Initial Review"),
    ]
    before = database_state()

    for stage in foreign_stages:
        # when
        with pytest.raises(NotFoundError) as raised:
            request_resubmission(
                obj=request, user=acme.user("budget_manager1"), stage=stage, reason="Back"
            )

        # then
        assert (raised.value.code, raised.value.field, raised.value.message) == (
            ErrorCode.NOT_FOUND,
            "stageId",
            "That stage is not part of this workflow.",
        )
        assert database_state() == before


@pytest.mark.parametrize("stage", [999_999, "abc", None])
def test_resubmission_to_an_unknown_stage_is_not_found(acme, stage):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    with pytest.raises(NotFoundError) as raised:
        request_resubmission(
            obj=request, user=acme.user("budget_manager1"), stage=stage, reason="Back"
        )

    assert raised.value.field == "stageId"
    assert database_state() == before


def test_resubmission_to_a_later_stage_is_refused(acme):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    for stage in (
        clone_stage(attachment, "Final Finance Sign-off"),
        template_stage(acme, "Executive Approval"),
    ):
        with pytest.raises(WorkflowValidationError) as raised:
            request_resubmission(
                obj=request, user=acme.user("budget_manager1"), stage=stage, reason="Fwd"
            )

        assert (raised.value.code, raised.value.field, raised.value.message) == (
            ErrorCode.VALIDATION_ERROR,
            "stageId",
            "Resubmission must go back to the current stage or an earlier one.",
        )
        assert database_state() == before


def test_resubmission_requires_a_reason(acme):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        request_resubmission(
            obj=request,
            user=acme.user("budget_manager1"),
            stage=clone_stage(attachment, "Initial Review"),
            reason=" ",
        )

    assert (raised.value.field, raised.value.message) == ("reason", "A reason is required.")
    assert database_state() == before


def test_resubmission_by_a_non_approver_changes_nothing(acme):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    with pytest.raises(NotAnApproverError):
        request_resubmission(
            obj=request,
            user=acme.user("requester"),
            stage=clone_stage(attachment, "Initial Review"),
            reason="Back",
        )

    assert database_state() == before
