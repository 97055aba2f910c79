"""reassign_stage: a workflow manager hands a stuck step to another user or role."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from backend.workflows import broadcast
from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import WorkflowError
from backend.workflows.models import WorkflowEvent
from backend.workflows.services import approve_stage
from backend.workflows.services.running import reassign_stage
from tests.support.database_state import attachment_state, database_state
from tests.support.helpers import approvers_of
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db


def stuck(acme):
    """Return a request whose only approver has left the company (deactivated)."""
    request, attachment = attached_request(
        acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
    )
    get_user_model().objects.filter(pk=acme.user("employee").pk).update(is_active=False)
    return request, attachment


def test_the_company_account_reassigns_a_stuck_step(acme):
    # given
    request, attachment = stuck(acme)

    # when
    reassign_stage(
        attachment_id=attachment.pk,
        user=acme.company,
        to_user=acme.user("budget_manager1").pk,
        reason="Employee left",
        expected_stage=attachment.current_stage_id,
    )

    # then
    assert approvers_of(attachment) == ["acme-budget_manager1"]
    event = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (event.event_type, event.actor, event.delegate, event.reason) == (
        EventType.REASSIGNED,
        acme.company,
        acme.user("budget_manager1"),
        "Employee left",
    )
    assert event.details == {
        "approvers_before": [acme.user("employee").pk],
        "approvers_after": [acme.user("budget_manager1").pk],
    }
    approve_stage(obj=request, user=acme.user("budget_manager1"))
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")


def test_both_inboxes_are_told(acme):
    request, attachment = stuck(acme)
    reassign_stage(
        attachment_id=attachment.pk, user=acme.company, to_user=acme.user("cfo"), reason="Left"
    )
    event = WorkflowEvent.objects.filter(attachment=attachment).last()

    sends = broadcast._inbox_messages(attachment, [event])

    # the previous holder is told the item left, the new one that it entered; the acting
    # manager never held the step, so nothing is sent to them
    changes = {message["user_id"]: message["change"] for _, message in sends}
    assert changes == {
        acme.user("employee").pk: "left",
        acme.user("cfo").pk: "entered",
    }


def test_a_step_can_go_to_a_role(acme):
    request, attachment = stuck(acme)
    reassign_stage(
        attachment_id=attachment.pk,
        user=acme.company,
        to_role=acme.roles["Executive"],
        reason="Left",
    )
    assert approvers_of(attachment) == ["acme-executive1", "acme-executive2"]
    event = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (event.delegate, event.details["to_role"]) == (None, acme.roles["Executive"].pk)
    approve_stage(obj=request, user=acme.user("executive1"))
    assert attachment_state(attachment)[2] == "After"


def test_a_holder_of_the_change_permission_may_reassign(acme):
    request, attachment = stuck(acme)
    manager = acme.user("budget_manager2")
    manager.user_permissions.add(Permission.objects.get(codename="change_workflowattachment"))
    manager = get_user_model().objects.get(pk=manager.pk)
    reassign_stage(attachment_id=attachment.pk, user=manager, to_user=acme.user("cfo"), reason="x")
    assert approvers_of(attachment) == ["acme-cfo"]


def _refused(callable_):
    before = database_state()
    with pytest.raises(WorkflowError) as raised:
        callable_()
    assert database_state() == before
    return raised.value.code, raised.value.message, raised.value.field


def test_who_may_not_reassign_changes_nothing(acme, globex):
    request, attachment = stuck(acme)
    for user, expected in [
        (
            acme.user("budget_manager1"),
            (
                ErrorCode.PERMISSION_DENIED,
                "Only the company, an administrator or a user with "
                "workflows.change_workflowattachment may reassign a step.",
                None,
            ),
        ),
        (
            acme.user("requester"),
            (
                ErrorCode.PERMISSION_DENIED,
                "Only the company, an administrator or a user with "
                "workflows.change_workflowattachment may reassign a step.",
                None,
            ),
        ),
        (
            globex.company,
            (ErrorCode.NOT_FOUND, "Workflow attachment not found.", "attachmentId"),
        ),
    ]:
        assert (
            _refused(
                lambda user=user: reassign_stage(
                    attachment_id=attachment.pk, user=user, to_user=acme.user("cfo"), reason="x"
                )
            )
            == expected
        )


def test_targets_must_be_active_users_or_roles_of_the_company(acme, globex):
    request, attachment = stuck(acme)
    outsider_role = globex.roles["Executive"]

    def reassign(**target):
        return lambda: reassign_stage(
            attachment_id=attachment.pk, user=acme.company, reason="x", **target
        )

    assert _refused(reassign(to_user=globex.user("cfo").pk)) == (
        ErrorCode.NOT_FOUND,
        "User not found.",
        "toUserId",
    )
    assert _refused(reassign(to_user=acme.user("employee").pk)) == (
        ErrorCode.VALIDATION_ERROR,
        "The user is not active.",
        "toUserId",
    )
    assert _refused(reassign(to_role=outsider_role.pk)) == (
        ErrorCode.NOT_FOUND,
        "Role not found.",
        "toRoleId",
    )
    empty = Group.objects.create(name="Nobody")
    assert _refused(reassign(to_role=empty.pk)) == (
        ErrorCode.NOT_FOUND,
        "Role not found.",
        "toRoleId",
    )
    mixed = Group.objects.create(name="Mixed")
    mixed.user_set.add(acme.user("cfo"), globex.user("cfo"))
    assert _refused(reassign(to_role=mixed.pk)) == (
        ErrorCode.VALIDATION_ERROR,
        f"Role {mixed.pk} has members outside this company.",
        "toRoleId",
    )
    departed = Group.objects.create(name="Departed")
    departed.user_set.add(acme.user("employee"))  # deactivated by stuck()
    assert _refused(reassign(to_role=departed.pk)) == (
        ErrorCode.VALIDATION_ERROR,
        f"Role {departed.pk} has no active members.",
        "toRoleId",
    )
    assert _refused(reassign()) == (
        ErrorCode.VALIDATION_ERROR,
        "Name exactly one user or one role.",
        "toUserId",
    )
    assert _refused(reassign(to_user=acme.user("requester").pk)) == (
        ErrorCode.VALIDATION_ERROR,
        "You cannot reassign a step to the user who started the workflow.",
        "toUserId",
    )


def test_a_reason_is_required_and_the_stage_must_be_the_one_seen(acme):
    request, attachment = stuck(acme)
    assert _refused(
        lambda: reassign_stage(
            attachment_id=attachment.pk, user=acme.company, to_user=acme.user("cfo"), reason=" "
        )
    ) == (ErrorCode.VALIDATION_ERROR, "A reason is required.", "reason")
    assert (
        _refused(
            lambda: reassign_stage(
                attachment_id=attachment.pk,
                user=acme.company,
                to_user=acme.user("cfo"),
                reason="x",
                expected_stage=attachment.current_stage_id + 1,
            )
        )[0]
        == ErrorCode.CONFLICT
    )


def test_a_finished_workflow_has_nothing_to_reassign(acme):
    request, attachment = attached_request(
        acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
    )
    approve_stage(obj=request, user=acme.user("employee"))
    approve_stage(obj=request, user=acme.user("cfo"))
    assert _refused(
        lambda: reassign_stage(
            attachment_id=attachment.pk, user=acme.company, to_user=acme.user("cfo"), reason="x"
        )
    ) == (
        ErrorCode.INVALID_STATE,
        "The workflow is completed; this action is not possible now.",
        None,
    )


def test_a_role_shares_the_step_without_the_user_who_started_the_workflow(acme):
    request, attachment = stuck(acme)
    acme.user("requester").groups.add(acme.roles["Executive"])
    reassign_stage(
        attachment_id=attachment.pk, user=acme.company, to_role=acme.roles["Executive"], reason="x"
    )
    assert approvers_of(attachment) == ["acme-executive1", "acme-executive2"]


def test_the_previous_and_new_holders_are_mailed(acme, django_capture_on_commit_callbacks):
    from django.core import mail

    request, attachment = attached_request(
        acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
    )
    with django_capture_on_commit_callbacks(execute=True):
        reassign_stage(
            attachment_id=attachment.pk,
            user=acme.company,
            to_user=acme.user("budget_manager1"),
            reason="Workload",
        )
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        (
            "budget_manager1@acme.example",
            "Reassigned: Purchase Request: Laptops - $12500.00 – Step",
        ),
        ("employee@acme.example", "Reassigned: Purchase Request: Laptops - $12500.00 – Step"),
    ]
    assert "Acme reassigned the stage" in mail.outbox[0].body
