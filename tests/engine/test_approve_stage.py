"""approve_stage / check_in_stage / verify_stage: who may approve, strategies, forms, idempotency."""

from __future__ import annotations

import pytest
from approval_workflow.models import ApprovalInstance
from django.contrib.auth.models import AnonymousUser

from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import (
    ConflictError,
    FormRequiredError,
    InvalidStateError,
    NotAnApproverError,
    NotFoundError,
    UnauthenticatedError,
    WorkflowValidationError,
)
from backend.workflows.models import Stage, WorkflowAttachment, WorkflowEvent
from backend.workflows.services import (
    approve_stage,
    check_in_stage,
    create_workflow,
    verify_stage,
)
from tests.support.database_state import (
    approval_rows,
    attachment_state,
    database_state,
    event_types,
)
from tests.support.helpers import approvers_of, make_purchase_request
from tests.support.purchase_steps import FORM_DATA, start_purchase_request
from tests.support.workflow_builders import (
    attached_request,
    role_approval,
    two_stage_workflow,
    user_approval,
)

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- who may approve


@pytest.mark.parametrize(
    ("actor", "error_class", "code", "message"),
    [
        ("anonymous", UnauthenticatedError, ErrorCode.UNAUTHENTICATED, "You must be signed in."),
        (
            "another tenant",
            NotFoundError,
            ErrorCode.NOT_FOUND,
            "No workflow is attached to this object.",
        ),
        (
            "non-approver",
            NotAnApproverError,
            ErrorCode.NOT_AN_APPROVER,
            "You are not an approver of the current stage.",
        ),
        (
            "approver of a later stage",
            NotAnApproverError,
            ErrorCode.NOT_AN_APPROVER,
            "You are not an approver of the current stage.",
        ),
        (
            "company account",
            NotAnApproverError,
            ErrorCode.NOT_AN_APPROVER,
            "You are not an approver of the current stage.",
        ),
    ],
)
def test_approve_stage_refuses_who_is_not_an_approver(
    acme, globex, actor, error_class, code, message
):
    # given: waiting at Budget Approval (Acme's budget managers)
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    user = {
        "anonymous": AnonymousUser(),
        "another tenant": globex.user("budget_manager1"),
        "non-approver": acme.user("employee"),
        "approver of a later stage": acme.user("cfo"),
        "company account": acme.company,
    }[actor]
    before = database_state()

    # when
    with pytest.raises(error_class) as raised:
        approve_stage(obj=request, user=user, form_data=FORM_DATA["Budget Approval"])

    # then
    assert raised.value.code == code
    assert raised.value.message == message
    assert database_state() == before


def test_approve_stage_by_the_approver_moves_to_the_next_stage(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    # when
    result = approve_stage(
        obj=request,
        user=acme.user("budget_manager1"),
        form_data={"allocated_budget": "5000"},
        comment=" ok ",
    )

    # then
    assert result.pk == attachment.pk
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Final Finance Sign-off",
    )
    approved, moved = WorkflowEvent.objects.filter(attachment=attachment).order_by("-id")[:2][::-1]
    assert (approved.event_type, approved.actor, approved.from_stage.name_en) == (
        EventType.APPROVED,
        acme.user("budget_manager1"),
        "Budget Approval",
    )
    assert (approved.reason, approved.form_data) == ("ok", {"allocated_budget": "5000"})
    assert (moved.event_type, moved.from_stage.name_en, moved.to_stage.name_en) == (
        EventType.STAGE_MOVED,
        "Budget Approval",
        "Final Finance Sign-off",
    )
    # anyone: the other budget manager's share is gone, the CFO holds the next step
    assert approvers_of(attachment) == ["acme-cfo"]


def test_approve_stage_by_a_reviewer_round_robin_did_not_pick_is_refused(acme):
    # given: round robin gave Initial Review to reviewer 1
    request, attachment = start_purchase_request(acme)
    assert approvers_of(attachment) == ["acme-finance_reviewer1"]
    before = database_state()

    # when
    with pytest.raises(NotAnApproverError) as raised:
        approve_stage(
            obj=request, user=acme.user("finance_reviewer2"), form_data={"budget_code": "B"}
        )

    # then
    assert raised.value.code == ErrorCode.NOT_AN_APPROVER
    assert database_state() == before


def test_approve_stage_without_an_attachment_is_not_found(acme):
    request = make_purchase_request(acme)
    before = database_state()

    with pytest.raises(NotFoundError) as raised:
        approve_stage(obj=request, user=acme.user("cfo"))

    assert raised.value.message == "No workflow is attached to this object."
    assert database_state() == before


def test_approve_stage_on_a_completed_workflow_is_an_invalid_state(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    approve_stage(obj=request, user=acme.user("executive1"))
    approve_stage(obj=request, user=acme.user("executive2"))
    assert attachment_state(attachment) == (AttachmentStatus.COMPLETED, None, None)
    before = database_state()

    # when
    with pytest.raises(InvalidStateError) as raised:
        approve_stage(obj=request, user=acme.user("executive1"))

    # then
    assert raised.value.code == ErrorCode.INVALID_STATE
    assert raised.value.message == "The workflow is completed; this action is not possible now."
    assert database_state() == before


# --------------------------------------------------------------------------- strategies


def test_consensus_needs_every_member(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")

    # when: one of two executives approves
    approve_stage(obj=request, user=acme.user("executive1"))

    # then: still waiting for the other one
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Executive Approval",
        "Executive Approval",
    )
    assert approvers_of(attachment) == ["acme-executive2"]
    before = database_state()
    with pytest.raises(ConflictError) as raised:  # the first one cannot approve twice
        approve_stage(obj=request, user=acme.user("executive1"))
    assert raised.value.code == ErrorCode.CONFLICT
    assert database_state() == before

    # when: the second one approves
    approve_stage(obj=request, user=acme.user("executive2"))

    # then
    assert attachment_state(attachment) == (AttachmentStatus.COMPLETED, None, None)
    assert event_types(attachment)[-3:] == [
        EventType.APPROVED,
        EventType.APPROVED,
        EventType.COMPLETED,
    ]
    request.refresh_from_db()
    assert request.workflow_status == "approved"


def test_round_robin_spreads_successive_requests_across_reviewers(acme):
    # when: three purchase requests are started one after another
    picked = []
    for number in range(3):
        _, attachment = start_purchase_request(acme, title=f"Request {number}")
        picked.append(approvers_of(attachment))

    # then: the reviewer with the fewest assignments gets the next one (ties: lowest id)
    assert picked == [
        ["acme-finance_reviewer1"],
        ["acme-finance_reviewer2"],
        ["acme-finance_reviewer1"],
    ]


def test_an_approver_of_a_stage_already_passed_is_not_an_approver_of_the_next(acme):
    # given: reviewer 1 approved Initial Review; Budget Approval waits
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    initial_review = Stage.objects.get(
        pipeline__workflow_id=attachment.workflow_id, name_en="Initial Review"
    )
    before = database_state()

    # when: reviewer 1 approves again from a stale page (naming the step they saw), then
    # without naming it; reviewer 2 (never picked) tries too
    with pytest.raises(ConflictError) as stale:
        approve_stage(
            obj=request,
            user=acme.user("finance_reviewer1"),
            form_data=FORM_DATA["Initial Review"],
            expected_stage=initial_review,
        )
    with pytest.raises(NotAnApproverError) as earlier_approver:
        approve_stage(
            obj=request, user=acme.user("finance_reviewer1"), form_data=FORM_DATA["Initial Review"]
        )
    with pytest.raises(NotAnApproverError):
        approve_stage(
            obj=request, user=acme.user("finance_reviewer2"), form_data=FORM_DATA["Initial Review"]
        )

    # then
    assert stale.value.message == (
        "This step has already been decided or is no longer waiting for you; "
        "reload the workflow and try again."
    )
    assert earlier_approver.value.message == "You are not an approver of the current stage."
    assert database_state() == before


@pytest.mark.parametrize(
    ("strategy", "settings", "approvals_needed"),
    [
        ("quorum", {"quorum_count": 1}, 1),
        ("quorum", {"quorum_count": 2}, 2),
        ("majority", {}, 2),
        ("percentage", {"percentage_required": 50}, 1),
    ],
)
def test_quorum_strategies_advance_once_enough_members_approved(
    acme, strategy, settings, approvals_needed
):
    # given: a stage shared by the two executives
    workflow = two_stage_workflow(
        acme, role_approval(acme.roles["Executive"], strategy, **settings)
    )
    request, attachment = attached_request(acme, workflow)
    assert approvers_of(attachment) == ["acme-executive1", "acme-executive2"]

    # when
    approve_stage(obj=request, user=acme.user("executive1"))

    # then
    if approvals_needed == 1:
        assert attachment_state(attachment)[2] == "After"
        assert [row[1:3] for row in approval_rows(attachment)] == [
            ("approved", "acme-executive1"),
            ("cancelled", "acme-executive2"),
            ("current", "acme-cfo"),
        ]
    else:
        assert attachment_state(attachment)[2] == "Step"
        approve_stage(obj=request, user=acme.user("executive2"))
        assert attachment_state(attachment)[2] == "After"
    assert approvers_of(attachment) == ["acme-cfo"]


# --------------------------------------------------------------------------- forms and behaviours


def test_submit_step_without_form_data_requires_a_form(acme):
    # given
    workflow = two_stage_workflow(acme, user_approval(acme.user("employee"), behaviour="submit"))
    request, attachment = attached_request(acme, workflow)
    before = database_state()

    # when / then
    for form_data in (None, {}):
        with pytest.raises(FormRequiredError) as raised:
            approve_stage(obj=request, user=acme.user("employee"), form_data=form_data)
        assert (raised.value.code, raised.value.field, raised.value.message) == (
            ErrorCode.FORM_REQUIRED,
            "formData",
            "This step requires form data.",
        )
        assert database_state() == before

    # when: with data
    approve_stage(obj=request, user=acme.user("employee"), form_data={"note": "done"})

    # then
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")
    assert WorkflowEvent.objects.get(
        attachment=attachment, event_type=EventType.APPROVED
    ).form_data == {"note": "done"}


@pytest.mark.parametrize(
    ("form_data", "error_field", "message"),
    [
        (None, "formData", "This step requires form data."),
        (
            {"note": "no budget code"},
            "formData.budget_code",
            "Required form fields are missing: budget_code.",
        ),
        (
            {"budget_code": ""},
            "formData.budget_code",
            "Required form fields are missing: budget_code.",
        ),
    ],
)
def test_required_form_fields_must_be_filled_in(acme, form_data, error_field, message):
    # given: Initial Review requires the Initial Review Form (budget_code required)
    request, attachment = start_purchase_request(acme)
    before = database_state()

    # when
    with pytest.raises(FormRequiredError) as raised:
        approve_stage(obj=request, user=acme.user("finance_reviewer1"), form_data=form_data)

    # then
    assert (raised.value.code, raised.value.field, raised.value.message) == (
        ErrorCode.FORM_REQUIRED,
        error_field,
        message,
    )
    assert database_state() == before


def test_form_data_must_be_an_object(acme):
    request, attachment = start_purchase_request(acme)
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        approve_stage(obj=request, user=acme.user("finance_reviewer1"), form_data=["budget_code"])

    assert (raised.value.field, raised.value.message) == (
        "formData",
        "form_data must be an object.",
    )
    assert database_state() == before


def test_move_step_refuses_form_data_and_moves_without_it(acme):
    # given
    workflow = two_stage_workflow(acme, user_approval(acme.user("employee"), behaviour="move"))
    request, attachment = attached_request(acme, workflow)
    before = database_state()

    # when / then
    with pytest.raises(WorkflowValidationError) as raised:
        approve_stage(obj=request, user=acme.user("employee"), form_data={"note": "x"})
    assert (raised.value.code, raised.value.field, raised.value.message) == (
        ErrorCode.VALIDATION_ERROR,
        "formData",
        "A move step takes no form data.",
    )
    assert database_state() == before

    approve_stage(obj=request, user=acme.user("employee"))
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")


def test_check_in_verify_first_approval_checks_in_and_the_second_advances(acme):
    # given
    workflow = two_stage_workflow(
        acme, user_approval(acme.user("employee"), behaviour="check_in_verify")
    )
    request, attachment = attached_request(acme, workflow)

    # when: first approval
    approve_stage(obj=request, user=acme.user("employee"), comment="on site")

    # then: checked in, still at the same stage
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "Step")
    assert event_types(attachment) == [
        EventType.ATTACHED,
        EventType.STARTED,
        EventType.CHECKED_IN,
    ]
    row = ApprovalInstance.objects.get(status="current")
    assert (row.assigned_to, row.extra_fields["checked_in"]) == (acme.user("employee"), True)

    # when: second approval
    approve_stage(obj=request, user=acme.user("employee"))

    # then
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")
    assert event_types(attachment) == [
        EventType.ATTACHED,
        EventType.STARTED,
        EventType.CHECKED_IN,
        EventType.APPROVED,
        EventType.STAGE_MOVED,
    ]
    assert approvers_of(attachment) == ["acme-cfo"]


def test_verify_stage_before_check_in_is_an_invalid_state(acme):
    # given
    workflow = two_stage_workflow(
        acme, user_approval(acme.user("employee"), behaviour="check_in_verify")
    )
    request, attachment = attached_request(acme, workflow)
    before = database_state()

    # when
    with pytest.raises(InvalidStateError) as raised:
        verify_stage(obj=request, user=acme.user("employee"))

    # then
    assert (raised.value.code, raised.value.message) == (
        ErrorCode.INVALID_STATE,
        "Check in on this step before verifying it.",
    )
    assert database_state() == before

    # check in, then a second check-in is refused and verify advances
    check_in_stage(obj=request, user=acme.user("employee"))
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "Step")
    before = database_state()
    with pytest.raises(InvalidStateError) as raised:
        check_in_stage(obj=request, user=acme.user("employee"))
    assert raised.value.message == "You have already checked in on this step; verify it next."
    assert database_state() == before
    verify_stage(obj=request, user=acme.user("employee"))
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")


def test_check_in_on_a_plain_approval_step_is_an_invalid_state(acme):
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")
    before = database_state()

    for call in (check_in_stage, verify_stage):
        with pytest.raises(InvalidStateError) as raised:
            call(obj=request, user=acme.user("cfo"))
        assert raised.value.message == "The current step is not a check-in / verify step."
        assert database_state() == before


# --------------------------------------------------------------------------- structure


def test_an_empty_pipeline_between_two_pipelines_is_skipped(acme):
    # given: First (1 stage) -> Empty (0 stages) -> Last (1 stage)
    workflow = create_workflow(
        company=acme.company,
        name_en="With a gap",
        pipelines=[
            {
                "name_en": "First",
                "stages": [{"name_en": "One", "approvals": [user_approval(acme.user("cfo"))]}],
            },
            {"name_en": "Empty", "number_of_stages": 0},
            {
                "name_en": "Last",
                "stages": [
                    {"name_en": "Two", "approvals": [role_approval(acme.roles["Executive"])]}
                ],
            },
        ],
    )
    assert [p.stages.count() for p in workflow.pipelines.all()] == [1, 0, 1]
    request, attachment = attached_request(acme, workflow)

    # when
    approve_stage(obj=request, user=acme.user("cfo"))

    # then: straight from First to Last
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Last", "Two")
    pipeline_moved = WorkflowEvent.objects.get(
        attachment=attachment, event_type=EventType.PIPELINE_MOVED
    )
    assert (pipeline_moved.from_pipeline.name_en, pipeline_moved.to_pipeline.name_en) == (
        "First",
        "Last",
    )
    approve_stage(obj=request, user=acme.user("executive2"))
    assert attachment_state(attachment) == (AttachmentStatus.COMPLETED, None, None)


# --------------------------------------------------------------------------- idempotency


def test_approve_stage_twice_with_the_same_idempotency_key_records_one_approval(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    user = acme.user("budget_manager1")

    # when
    first = approve_stage(
        obj=request, user=user, form_data=FORM_DATA["Budget Approval"], idempotency_key="k-1"
    )
    before = database_state()
    second = approve_stage(
        obj=request, user=user, form_data=FORM_DATA["Budget Approval"], idempotency_key="k-1"
    )

    # then
    assert second.pk == first.pk == attachment.pk
    assert database_state() == before
    approvals = WorkflowEvent.objects.filter(
        attachment=attachment, event_type=EventType.APPROVED, actor=user
    )
    assert [event.idempotency_key for event in approvals] == ["k-1"]
    assert attachment_state(attachment)[2] == "Final Finance Sign-off"


def test_an_idempotency_key_reused_on_another_object_is_a_conflict(acme):
    # given: the key approved one request
    first, _ = start_purchase_request(acme, title="First", at_stage="Final Finance Sign-off")
    second, second_attachment = start_purchase_request(
        acme, title="Second", at_stage="Final Finance Sign-off"
    )
    form_data = FORM_DATA["Final Finance Sign-off"]
    approve_stage(obj=first, user=acme.user("cfo"), form_data=form_data, idempotency_key="k-1")
    before = database_state()

    # when: the same key comes with another request
    with pytest.raises(ConflictError) as raised:
        approve_stage(obj=second, user=acme.user("cfo"), form_data=form_data, idempotency_key="k-1")

    # then: the second request is neither approved nor reported as approved
    assert (raised.value.field, raised.value.message) == (
        "idempotencyKey",
        "This idempotency key was already used for a decision on another object.",
    )
    assert database_state() == before
    assert attachment_state(second_attachment)[2] == "Final Finance Sign-off"


def test_approve_stage_again_without_an_idempotency_key_is_a_conflict(acme):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    user = acme.user("budget_manager1")
    stage_id = WorkflowAttachment.objects.get(pk=attachment.pk).current_stage_id
    approve_stage(
        obj=request, user=user, form_data=FORM_DATA["Budget Approval"], expected_stage=stage_id
    )
    before = database_state()

    # the same click again, bound to the step it was made for
    with pytest.raises(ConflictError) as raised:
        approve_stage(
            obj=request, user=user, form_data=FORM_DATA["Budget Approval"], expected_stage=stage_id
        )

    assert raised.value.code == ErrorCode.CONFLICT
    assert database_state() == before


def test_idempotency_key_longer_than_100_characters_is_refused(acme):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        approve_stage(
            obj=request,
            user=acme.user("budget_manager1"),
            form_data=FORM_DATA["Budget Approval"],
            idempotency_key="k" * 101,
        )

    assert (raised.value.field, raised.value.message) == (
        "idempotencyKey",
        "idempotency_key is longer than 100 characters.",
    )
    assert database_state() == before
    assert approval_rows(attachment)[-2:] == [
        (2, "current", "acme-budget_manager1", "Budget Approval"),
        (2, "current", "acme-budget_manager2", "Budget Approval"),
    ]
