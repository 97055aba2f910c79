"""Every decision applies to the step its actor saw, by the attachment it names.

Step binding (``expected_stage`` / ``expectedStageId``), decisions keyed by attachment id,
idempotency keys reused for something else, the right error for the right actor, no skipped
stages (``disableClone``, directly run templates, an attachment without a current stage).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from backend.workflows.constants import AttachmentStatus, EventType
from backend.workflows.exceptions import (
    ConflictError,
    InvalidStateError,
    NotAnApproverError,
    NotFoundError,
    WorkflowPermissionDenied,
    WorkflowValidationError,
)
from backend.workflows.models import Stage, WorkflowAttachment, WorkflowEvent
from backend.workflows.services import (
    add_stage,
    approve_stage,
    attach_workflow_to_object,
    cancel_workflow,
    decide_on_attachment,
    delegate_stage,
    reject_stage,
    remove_stage,
    reorder_stages,
    request_resubmission,
    update_stage,
)
from backend.workflows.transitions import Action
from tests.support.database_state import attachment_state, database_state, event_types
from tests.support.helpers import global_id, graphql, make_purchase_request
from tests.support.purchase_steps import FORM_DATA, current_approvers, start_purchase_request

pytestmark = pytest.mark.django_db

LOST_RACE = (
    "This step has already been decided or is no longer waiting for you; "
    "reload the workflow and try again."
)


def stage_of(attachment: WorkflowAttachment, name: str) -> Stage:
    """Return the running copy's stage called ``name``."""
    return Stage.objects.get(pipeline__workflow_id=attachment.workflow_id, name_en=name)


# --------------------------------------------------------------------------- step binding


STALE_DECISIONS = {
    "approve": lambda acme, request, stage: approve_stage(
        obj=request,
        user=acme.user("budget_manager1"),
        form_data=FORM_DATA["Budget Approval"],
        expected_stage=stage,
    ),
    "reject": lambda acme, request, stage: reject_stage(
        obj=request, user=acme.user("budget_manager1"), reason="No", expected_stage=stage
    ),
    "delegate": lambda acme, request, stage: delegate_stage(
        obj=request,
        user=acme.user("budget_manager1"),
        to_user=acme.user("employee"),
        expected_stage=stage,
    ),
    "resubmit": lambda acme, request, stage: request_resubmission(
        obj=request,
        user=acme.user("budget_manager1"),
        stage=stage,
        reason="Redo",
        expected_stage=stage,
    ),
    "cancel": lambda acme, request, stage: cancel_workflow(
        obj=request, user=acme.user("requester"), expected_stage=stage
    ),
}


@pytest.mark.parametrize("decision", STALE_DECISIONS)
def test_a_decision_naming_a_step_the_workflow_has_left_is_a_conflict(acme, decision):
    # given: the page showed Initial Review; the workflow is at Budget Approval since
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    seen = stage_of(attachment, "Initial Review")
    before = database_state()

    # when
    with pytest.raises(ConflictError) as raised:
        STALE_DECISIONS[decision](acme, request, seen)

    # then
    assert (raised.value.message, raised.value.field) == (LOST_RACE, None)
    assert database_state() == before


LAST_EVENT = {
    "approve": EventType.STAGE_MOVED,
    "reject": EventType.REJECTED,
    "delegate": EventType.DELEGATED,
    "resubmit": EventType.RESUBMISSION_REQUESTED,
    "cancel": EventType.CANCELLED,
}


@pytest.mark.parametrize("decision", STALE_DECISIONS)
def test_a_decision_naming_the_current_step_goes_through(acme, decision):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    current = stage_of(attachment, "Budget Approval")
    events_before = len(event_types(attachment))

    result = STALE_DECISIONS[decision](acme, request, current.pk)

    assert result.pk == attachment.pk
    assert event_types(attachment)[events_before:][-1] == LAST_EVENT[decision]


def test_expected_stage_that_is_not_a_stage_id_is_a_validation_error(acme):
    request, attachment = start_purchase_request(acme)
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        approve_stage(
            obj=request,
            user=acme.user("finance_reviewer1"),
            form_data=FORM_DATA["Initial Review"],
            expected_stage="first",
        )

    assert (raised.value.field, raised.value.message) == (
        "expectedStageId",
        "expected_stage must be a stage or a stage id.",
    )
    assert database_state() == before


APPROVE_WITH_STEP = """
mutation($input: ApproveStageInput!) {
  approveStage(input: $input) {
    attachment { id currentStage { nameEn } }
    error { code message field }
  }
}
"""


def test_approve_stage_through_graphql_is_bound_to_expected_stage_id(client, acme):
    # given: a budget manager's page still shows Initial Review
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    variables = {
        "attachmentId": str(attachment.pk),
        "formData": FORM_DATA["Budget Approval"],
    }
    before = database_state()

    # when: the page's stage, then the current one
    stale = graphql(
        client,
        APPROVE_WITH_STEP,
        {"input": {**variables, "expectedStageId": str(stage_of(attachment, "Initial Review").pk)}},
        user=acme.user("budget_manager1"),
    )
    state_after_stale = database_state()
    fresh = graphql(
        client,
        APPROVE_WITH_STEP,
        {
            "input": {
                **variables,
                "expectedStageId": str(stage_of(attachment, "Budget Approval").pk),
            }
        },
        user=acme.user("budget_manager1"),
    )

    # then
    assert stale["data"]["approveStage"] == {
        "attachment": None,
        "error": {"code": "CONFLICT", "message": LOST_RACE, "field": None},
    }
    # the token the helper created is the only change
    assert {k: v for k, v in state_after_stale.items() if "apitoken" not in k.lower()} == {
        k: v for k, v in before.items() if "apitoken" not in k.lower()
    }
    assert fresh["data"]["approveStage"] == {
        "attachment": {
            "id": global_id("WorkflowAttachment", attachment.pk),
            "currentStage": {"nameEn": "Final Finance Sign-off"},
        },
        "error": None,
    }


# --------------------------------------------------------------------------- keyed by attachment


def test_a_stale_attachment_id_never_acts_on_the_object_s_new_attachment(acme):
    # given: the first attachment was cancelled and a new one runs on the same request
    request, old = start_purchase_request(acme)
    cancel_workflow(obj=request, user=acme.user("requester"))
    new = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )
    reviewer = current_approvers(new)[0]
    before = database_state()

    # when: a decision names the old attachment
    with pytest.raises(InvalidStateError) as raised:
        decide_on_attachment(
            action=Action.APPROVE,
            attachment_id=old.pk,
            user=reviewer,
            form_data=FORM_DATA["Initial Review"],
        )

    # then: nothing happened to either attachment
    assert raised.value.message == "The workflow is cancelled; this action is not possible now."
    assert database_state() == before
    assert attachment_state(new) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )


def test_an_attachment_id_of_another_company_is_not_found(acme, globex):
    request, attachment = start_purchase_request(globex)
    before = database_state()

    with pytest.raises(NotFoundError) as raised:
        decide_on_attachment(
            action=Action.CANCEL, attachment_id=attachment.pk, user=acme.user("requester")
        )

    assert (raised.value.field, raised.value.message) == (
        "attachmentId",
        "Workflow attachment not found.",
    )
    assert database_state() == before


# --------------------------------------------------------------------------- idempotency keys


def test_an_idempotency_key_reused_for_another_decision_is_a_conflict_naming_it(acme):
    # given: budget manager 1 approved Budget Approval of one request with key k
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    manager = acme.user("budget_manager1")
    approve_stage(
        obj=request, user=manager, form_data=FORM_DATA["Budget Approval"], idempotency_key="k"
    )
    other, _ = start_purchase_request(acme, at_stage="Budget Approval")
    before = database_state()

    # when: the key comes back with a rejection, and with another request
    with pytest.raises(ConflictError) as another_action:
        reject_stage(obj=request, user=manager, reason="No", idempotency_key="k")
    with pytest.raises(ConflictError) as another_object:
        approve_stage(
            obj=other, user=manager, form_data=FORM_DATA["Budget Approval"], idempotency_key="k"
        )

    # then
    assert (another_action.value.field, another_action.value.message) == (
        "idempotencyKey",
        "This idempotency key was already used for another decision.",
    )
    assert (another_object.value.field, another_object.value.message) == (
        "idempotencyKey",
        "This idempotency key was already used for a decision on another object.",
    )
    assert database_state() == before


def test_an_idempotency_key_replays_after_the_workflow_moved_on(acme):
    # given: the CFO approved with key k; the workflow is at Executive Approval now
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")
    cfo = acme.user("cfo")
    first = approve_stage(
        obj=request, user=cfo, form_data=FORM_DATA["Final Finance Sign-off"], idempotency_key="k"
    )
    before = database_state()

    # when: the same request again, naming the stage it was made for
    replay = approve_stage(
        obj=request,
        user=cfo,
        form_data=FORM_DATA["Final Finance Sign-off"],
        idempotency_key="k",
        expected_stage=stage_of(attachment, "Final Finance Sign-off"),
    )

    # then: the first answer again, nothing written
    assert (replay.pk, replay.status, replay.current_stage_id) == (
        first.pk,
        first.status,
        first.current_stage_id,
    )
    assert database_state() == before


# --------------------------------------------------------------------------- right error, right actor


def test_someone_who_already_decided_on_the_current_step_gets_a_conflict(acme):
    # given: executive 1 approved their share of the consensus; executive 2's is still open
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    approve_stage(obj=request, user=acme.user("executive1"))
    before = database_state()

    # when: executive 1 approves again; the CFO (an earlier stage's approver) tries too
    with pytest.raises(ConflictError) as again:
        approve_stage(obj=request, user=acme.user("executive1"))
    with pytest.raises(NotAnApproverError) as earlier:
        approve_stage(obj=request, user=acme.user("cfo"))

    # then
    assert again.value.message == LOST_RACE
    assert earlier.value.message == "You are not an approver of the current stage."
    assert database_state() == before


# --------------------------------------------------------------------------- no skipped stages


def test_attaching_without_a_copy_is_for_those_who_may_edit_the_template(acme):
    request = make_purchase_request(acme)
    before = database_state()

    with pytest.raises(WorkflowPermissionDenied) as raised:
        attach_workflow_to_object(
            obj=request, workflow=acme.workflow, user=acme.user("requester"), disable_clone=True
        )

    assert (raised.value.field, raised.value.message) == (
        "disableClone",
        "Only users who may edit the template may run it without a copy.",
    )
    assert database_state() == before

    # a user with the template editing permission may
    editor = acme.user("employee")
    editor.user_permissions.add(Permission.objects.get(codename="change_workflow"))
    editor = type(editor).objects.get(pk=editor.pk)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=editor, disable_clone=True
    )
    assert attachment.workflow_id == acme.workflow.pk


TEMPLATE_EDITS = {
    "remove a stage": lambda acme, stages: remove_stage(stage=stages[0]),
    "add a stage": lambda acme, stages: add_stage(
        pipeline=stages[0].pipeline,
        name_en="Extra",
        approvals=[{"approval_type": "user", "approval_user": acme.user("cfo").pk}],
    ),
    "change a stage's approvals": lambda acme, stages: update_stage(
        stage=stages[0],
        approvals=[{"approval_type": "user", "approval_user": acme.user("cfo").pk}],
    ),
    "reorder stages": lambda acme, stages: reorder_stages(
        pipeline=stages[0].pipeline,
        stage_ids=[s.pk for s in reversed(stages) if s.pipeline_id == stages[0].pipeline_id],
    ),
}


@pytest.mark.parametrize("edit", TEMPLATE_EDITS)
def test_a_template_run_directly_is_read_only_until_its_attachment_ends(acme, edit):
    # given: the company runs its template directly on a request
    request = make_purchase_request(acme)
    attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.company, disable_clone=True
    )
    stages = list(
        Stage.objects.filter(pipeline__workflow=acme.workflow).order_by("pipeline__order", "order")
    )
    before = database_state()

    # when
    with pytest.raises(InvalidStateError) as raised:
        TEMPLATE_EDITS[edit](acme, stages)

    # then
    assert raised.value.message == (
        "A live attachment runs this workflow directly; its pipelines and stages cannot "
        "change until that attachment ends."
    )
    assert database_state() == before

    # once the attachment ends, the template is a template again
    cancel_workflow(obj=request, user=acme.company)
    TEMPLATE_EDITS[edit](acme, stages)


def test_an_open_step_of_another_stage_is_never_approved(acme):
    # given: the attachment's current stage was changed behind the engine's back
    request, attachment = start_purchase_request(acme)
    WorkflowAttachment.objects.filter(pk=attachment.pk).update(
        current_stage=stage_of(attachment, "Budget Approval")
    )
    before = database_state()

    # when: the reviewer approves the Initial Review row they still hold
    reviewer = current_approvers(attachment)[0]
    with pytest.raises(InvalidStateError) as raised:
        approve_stage(obj=request, user=reviewer, form_data=FORM_DATA["Initial Review"])

    # then
    assert raised.value.message == (
        "The open approval step does not belong to the current stage; "
        "an administrator has to cancel this workflow."
    )
    assert database_state() == before
    assert (
        WorkflowEvent.objects.filter(attachment=attachment, event_type=EventType.APPROVED).count()
        == 0
    )


def test_approve_stage_through_graphql_with_a_stale_attachment_id_changes_nothing(client, acme):
    # given: the request's first attachment was cancelled; a new one waits for a reviewer
    request, old = start_purchase_request(acme)
    cancel_workflow(obj=request, user=acme.user("requester"))
    new = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )
    reviewer = current_approvers(new)[0]
    events_before = event_types(new)

    # when: a stale page approves, naming the old attachment
    body = graphql(
        client,
        APPROVE_WITH_STEP,
        {"input": {"attachmentId": str(old.pk), "formData": FORM_DATA["Initial Review"]}},
        user=reviewer,
    )

    # then: refused; the new attachment did not move
    assert body["data"]["approveStage"] == {
        "attachment": None,
        "error": {
            "code": "INVALID_STATE",
            "message": "The workflow is cancelled; this action is not possible now.",
            "field": None,
        },
    }
    assert event_types(new) == events_before
    assert attachment_state(new) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )
