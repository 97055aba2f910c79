"""attach_workflow_to_object / start_workflow: one live attachment, a private copy, clean failures."""

from __future__ import annotations

import pytest
from approval_workflow.models import ApprovalFlow
from django.contrib.auth.models import Group

from backend.demo.models import Department, PurchaseRequest
from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import (
    ConflictError,
    InvalidStateError,
    NotAnApproverError,
    NotFoundError,
    WorkflowValidationError,
)
from backend.workflows.models import Stage, Workflow, WorkflowAttachment
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    cancel_workflow,
    create_workflow,
    get_workflow_attachment,
    reject_stage,
    start_workflow,
    update_stage,
)
from tests.support.database_state import (
    approval_rows,
    attachment_state,
    database_state,
    event_types,
)
from tests.support.helpers import approvers_of, make_purchase_request
from tests.support.purchase_steps import FORM_DATA, approve_current_stage, start_purchase_request
from tests.support.workflow_builders import role_approval, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db


def flows_of(request: PurchaseRequest) -> list[int]:
    return list(ApprovalFlow.objects.filter(object_id=str(request.pk)).values_list("pk", flat=True))


# --------------------------------------------------------------------------- one live attachment


@pytest.mark.parametrize("auto_start", [True, False])
def test_attach_while_a_live_attachment_exists_is_a_conflict(acme, auto_start):
    # given: a live attachment, started or not
    request = make_purchase_request(acme)
    attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester"), auto_start=auto_start
    )
    before = database_state()

    # when
    with pytest.raises(ConflictError) as raised:
        attach_workflow_to_object(obj=request, workflow=acme.workflow, user=acme.user("requester"))

    # then
    assert (raised.value.code, raised.value.message) == (
        ErrorCode.CONFLICT,
        "This object already has a live workflow; cancel it before attaching another.",
    )
    assert database_state() == before


def test_attach_after_completion_replaces_the_old_approval_flow(acme):
    # given: a completed run
    request, first = start_purchase_request(acme, at_stage="Executive Approval")
    approve_current_stage(first, request)
    assert attachment_state(first) == (AttachmentStatus.COMPLETED, None, None)
    [old_flow] = flows_of(request)

    # when
    second = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )

    # then: a new run with a fresh flow; the old attachment keeps its history
    assert second.pk != first.pk
    assert attachment_state(second) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )
    assert attachment_state(first) == (AttachmentStatus.COMPLETED, None, None)
    [new_flow] = flows_of(request)
    assert new_flow != old_flow
    assert approval_rows(second) == [(1, "current", "acme-finance_reviewer1", "Initial Review")]
    assert event_types(first)[-1] == EventType.COMPLETED
    assert event_types(second) == [EventType.ATTACHED, EventType.STARTED]
    assert get_workflow_attachment(request).pk == second.pk
    assert second.workflow_id != first.workflow_id  # each run has its own copy

    # and the new run works to the end
    for _ in range(4):
        approve_current_stage(second, request)
    assert attachment_state(second) == (AttachmentStatus.COMPLETED, None, None)


@pytest.mark.parametrize("ending", ["rejected", "cancelled"])
def test_attach_after_rejection_or_cancellation_starts_afresh(acme, ending):
    request, first = start_purchase_request(acme, at_stage="Budget Approval")
    if ending == "rejected":
        reject_stage(obj=request, user=acme.user("budget_manager1"), reason="No")
    else:
        cancel_workflow(obj=request, user=acme.user("requester"))

    second = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )

    assert attachment_state(first)[0] == ending
    assert attachment_state(second) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )
    assert len(flows_of(request)) == 1
    assert approval_rows(second) == [(1, "current", "acme-finance_reviewer1", "Initial Review")]


# --------------------------------------------------------------------------- start failures


def test_attach_fails_cleanly_when_the_only_member_of_a_role_was_deactivated(acme):
    # given: a workflow whose first stage is a role with one member, deactivated afterwards
    solo = Group.objects.create(name="Acme: Solo")
    acme.user("employee").groups.add(solo)
    workflow = two_stage_workflow(acme, role_approval(solo, "anyone"))
    employee = acme.user("employee")
    employee.is_active = False
    employee.save(update_fields=["is_active"])
    request = make_purchase_request(acme)
    before = database_state()

    # when
    with pytest.raises(WorkflowValidationError) as raised:
        attach_workflow_to_object(obj=request, workflow=workflow, user=acme.user("requester"))

    # then: no attachment, no hidden copy, no approval flow
    assert (raised.value.code, raised.value.field, raised.value.message) == (
        ErrorCode.VALIDATION_ERROR,
        "approvals",
        "A role of this stage has no active members.",
    )
    assert database_state() == before
    assert WorkflowAttachment.objects.count() == 0
    assert Workflow.objects.filter(is_hidden=True).count() == 0
    assert ApprovalFlow.objects.count() == 0


def test_attach_fails_cleanly_when_the_approving_user_was_deactivated(acme):
    workflow = two_stage_workflow(acme, user_approval(acme.user("employee")))
    employee = acme.user("employee")
    employee.is_active = False
    employee.save(update_fields=["is_active"])
    request = make_purchase_request(acme)
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        attach_workflow_to_object(obj=request, workflow=workflow, user=acme.user("requester"))

    assert (raised.value.field, raised.value.message) == (
        "approvals",
        f"Approver {employee.pk} of stage 'Step' no longer exists or is inactive.",
    )
    assert database_state() == before


def test_approval_that_would_open_a_stage_without_active_members_changes_nothing(acme):
    # given: the second stage's role lost its only member while the first stage waits
    solo = Group.objects.create(name="Acme: Solo")
    acme.user("employee").groups.add(solo)
    workflow = create_workflow(
        company=acme.company,
        name_en="Two roles",
        pipelines=[
            {
                "name_en": "Main",
                "stages": [
                    {"name_en": "Step", "approvals": [user_approval(acme.user("cfo"))]},
                    {"name_en": "Solo", "approvals": [role_approval(solo)]},
                ],
            }
        ],
    )
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=acme.user("requester")
    )
    acme.user("employee").groups.remove(solo)
    before = database_state()

    # when
    with pytest.raises(WorkflowValidationError) as raised:
        approve_stage(obj=request, user=acme.user("cfo"))

    # then: the CFO's approval is not recorded; the workflow still waits at Step
    assert raised.value.message == "A role of this stage has no active members."
    assert database_state() == before
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "Step")


@pytest.mark.parametrize(
    ("case", "error_class", "field", "message"),
    [
        ("other company", NotFoundError, "workflowId", "Workflow not found."),
        (
            "hidden copy",
            WorkflowValidationError,
            "workflowId",
            "This workflow is the running copy of another attachment.",
        ),
        ("inactive", WorkflowValidationError, "workflowId", "The workflow is not active."),
        ("no stages", WorkflowValidationError, "workflowId", "The workflow has no stages."),
        (
            "stage without approvers",
            WorkflowValidationError,
            "workflowId",
            "Stage 'Stage 1' of pipeline 'Blank' has no approvers configured.",
        ),
    ],
)
def test_attach_refuses_a_workflow_that_cannot_run(acme, globex, case, error_class, field, message):
    # given
    if case == "other company":
        workflow = globex.workflow
    elif case == "hidden copy":
        _, running = start_purchase_request(acme, title="Running")
        workflow = running.workflow
    elif case == "inactive":
        workflow = acme.workflow
        Workflow.objects.filter(pk=workflow.pk).update(is_active=False)
        workflow.refresh_from_db()
    elif case == "no stages":
        workflow = create_workflow(company=acme.company, name_en="Empty")
    else:
        workflow = create_workflow(
            company=acme.company,
            name_en="Blank",
            pipelines=[{"name_en": "Blank", "number_of_stages": 1}],
        )
    request = make_purchase_request(acme)
    before = database_state()

    # when
    with pytest.raises(error_class) as raised:
        attach_workflow_to_object(obj=request, workflow=workflow, user=acme.user("requester"))

    # then
    assert (raised.value.field, raised.value.message) == (field, message)
    assert database_state() == before


def test_attach_refuses_bad_objects_and_metadata(acme):
    department = Department.objects.get(company=acme.company, name="Finance")
    unsaved = PurchaseRequest(title="Unsaved", amount=1, requester=acme.user("requester"))
    request = make_purchase_request(acme)
    before = database_state()
    cases = [
        (department, {}, "model", "demo.Department is not enabled for workflows."),
        (unsaved, {}, "objectId", "Save the object before attaching a workflow."),
        (request, {"metadata": ["not", "a", "dict"]}, "metadata", "metadata must be an object."),
    ]

    for obj, extra, field, message in cases:
        with pytest.raises(WorkflowValidationError) as raised:
            attach_workflow_to_object(
                obj=obj, workflow=acme.workflow, user=acme.user("requester"), **extra
            )
        assert (raised.value.field, raised.value.message) == (field, message)
        assert database_state() == before


# --------------------------------------------------------------------------- starting later


def test_attach_without_auto_start_waits_for_start_workflow(acme):
    # given
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester"), auto_start=False
    )
    assert attachment_state(attachment) == (AttachmentStatus.NOT_STARTED, None, None)
    assert flows_of(request) == []
    assert event_types(attachment) == [EventType.ATTACHED]

    # when
    start_workflow(obj=request, user=acme.user("requester"))

    # then
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )
    assert event_types(attachment) == [EventType.ATTACHED, EventType.STARTED]
    assert approvers_of(attachment) == ["acme-finance_reviewer1"]
    before = database_state()
    with pytest.raises(InvalidStateError) as raised:
        start_workflow(obj=request, user=acme.user("requester"))
    assert raised.value.message == "The workflow is in progress; this action is not possible now."
    assert database_state() == before


# --------------------------------------------------------------------------- template versus copy


def test_editing_the_template_after_attach_leaves_the_running_copy_alone(acme):
    # given
    request, attachment = start_purchase_request(acme)
    template_budget = Stage.objects.get(pipeline__workflow=acme.workflow, name_en="Budget Approval")

    # when: the template's Budget Approval is renamed and handed to the CFO
    update_stage(
        stage=template_budget,
        name_en="Budget Check",
        approvals=[user_approval(acme.user("cfo"))],
    )

    # then: the running copy keeps its stage name and its budget managers
    clone_budget = Stage.objects.get(
        pipeline__workflow_id=attachment.workflow_id, cloned_from=template_budget
    )
    assert clone_budget.name_en == "Budget Approval"
    assert clone_budget.approvals[0]["user_role"] == acme.roles["Budget Manager"].pk
    approve_current_stage(attachment, request)
    assert attachment_state(attachment)[2] == "Budget Approval"
    assert approvers_of(attachment) == ["acme-budget_manager1", "acme-budget_manager2"]
    before = database_state()
    with pytest.raises(NotAnApproverError):
        approve_stage(obj=request, user=acme.user("cfo"), form_data=FORM_DATA["Budget Approval"])
    assert database_state() == before
    approve_stage(
        obj=request, user=acme.user("budget_manager1"), form_data=FORM_DATA["Budget Approval"]
    )
    assert attachment_state(attachment)[2] == "Final Finance Sign-off"

    # and a new attachment runs the edited template
    other, other_attachment = start_purchase_request(acme, title="After the edit")
    approve_current_stage(other_attachment, other)
    assert attachment_state(other_attachment)[2] == "Budget Check"
    assert approvers_of(other_attachment) == ["acme-cfo"]


def test_the_running_copy_cannot_be_edited(acme):
    request, attachment = start_purchase_request(acme)
    clone_stage = Stage.objects.filter(pipeline__workflow_id=attachment.workflow_id).first()
    before = database_state()

    with pytest.raises(InvalidStateError):
        update_stage(stage=clone_stage, name_en="Changed")

    assert database_state() == before


def test_attach_with_disable_clone_runs_the_template_itself(acme):
    request = make_purchase_request(acme)
    workflows = Workflow.objects.count()

    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.company, disable_clone=True
    )

    assert attachment.workflow_id == acme.workflow.pk
    assert Workflow.objects.count() == workflows
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )
