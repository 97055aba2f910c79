"""reassignStage through GraphQL: managers hand a stuck step to a user or a role."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from backend.workflows.models import WorkflowEvent
from tests.support.database_state import database_state
from tests.support.helpers import approvers_of, global_id, graphql
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db

REASSIGN = """
mutation($input: ReassignStageInput!) {
  reassignStage(input: $input) {
    attachment { id currentStage { nameEn } currentApprovers { user { username } role { name } } }
    error { code field message }
  }
}
"""


def stuck(acme):
    """Return an attachment whose only approver (the employee) has been deactivated."""
    request, attachment = attached_request(
        acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
    )
    get_user_model().objects.filter(pk=acme.user("employee").pk).update(is_active=False)
    return attachment


def reassign_input(attachment, **fields):
    return {
        "attachmentId": global_id("WorkflowAttachment", attachment.pk),
        "expectedStageId": global_id("Stage", attachment.current_stage_id),
        "reason": "Employee left",
        **fields,
    }


def test_the_company_account_reassigns_to_a_user(client, acme):
    # given
    attachment = stuck(acme)

    # when
    body = graphql(
        client,
        REASSIGN,
        {
            "input": reassign_input(
                attachment, toUserId=global_id("User", acme.user("budget_manager1").pk)
            )
        },
        user=acme.company,
    )

    # then
    assert body["data"]["reassignStage"] == {
        "attachment": {
            "id": global_id("WorkflowAttachment", attachment.pk),
            "currentStage": {"nameEn": "Step"},
            "currentApprovers": [{"user": {"username": "acme-budget_manager1"}, "role": None}],
        },
        "error": None,
    }
    event = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (event.event_type, event.actor, event.delegate, event.reason) == (
        "reassigned",
        acme.company,
        acme.user("budget_manager1"),
        "Employee left",
    )


def test_a_holder_of_the_change_permission_reassigns_to_a_role(client, acme):
    # given: a manager by permission; a raw database id for the role is accepted too
    attachment = stuck(acme)
    manager = acme.user("cfo")
    manager.user_permissions.add(Permission.objects.get(codename="change_workflowattachment"))

    # when
    body = graphql(
        client,
        REASSIGN,
        {"input": reassign_input(attachment, toRoleId=str(acme.roles["Executive"].pk))},
        user=manager,
    )

    # then
    assert body["data"]["reassignStage"]["error"] is None
    approvers = body["data"]["reassignStage"]["attachment"]["currentApprovers"]
    assert sorted(a["user"]["username"] for a in approvers) == [
        "acme-executive1",
        "acme-executive2",
    ]
    assert {a["role"]["name"] for a in approvers} == {"Acme: Executive"}
    assert approvers_of(attachment) == ["acme-executive1", "acme-executive2"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {},
            ("VALIDATION_ERROR", "toUserId", "Name exactly one user or one role."),
            id="neither",
        ),
        pytest.param(
            {"toUserId": "cfo", "toRoleId": "Executive"},
            ("VALIDATION_ERROR", "toUserId", "Name exactly one user or one role."),
            id="both",
        ),
        pytest.param(
            {"toUserId": "employee"},
            ("VALIDATION_ERROR", "toUserId", "The user is not active."),
            id="inactive user",
        ),
        pytest.param(
            {"toUserId": "cfo", "reason": "  "},
            ("VALIDATION_ERROR", "reason", "A reason is required."),
            id="no reason",
        ),
        pytest.param(
            {"toUserId": "cfo", "reason": "x" * 5001},
            ("VALIDATION_ERROR", "reason", "The reason is longer than 5000 characters."),
            id="long reason",
        ),
        pytest.param(
            {"toUserId": "stage"},
            ("NOT_FOUND", "toUserId", "User not found."),
            id="a stage's id as the user",
        ),
        pytest.param(
            {"toRoleId": "999999"},
            ("NOT_FOUND", "toRoleId", "Role not found."),
            id="unknown role",
        ),
        pytest.param(
            {"toUserId": "cfo", "expectedStageId": "after"},
            (
                "CONFLICT",
                None,
                None,  # message checked below: it names the stages
            ),
            id="stale stage",
        ),
    ],
)
def test_bad_input_is_a_typed_error_and_changes_nothing(client, acme, fields, expected):
    # given
    attachment = stuck(acme)
    after = attachment.workflow.pipelines.get().stages.get(name_en="After")
    names = {
        "cfo": global_id("User", acme.user("cfo").pk),
        "employee": global_id("User", acme.user("employee").pk),
        "Executive": global_id("Role", acme.roles["Executive"].pk),
        "stage": global_id("Stage", attachment.current_stage_id),
        "after": global_id("Stage", after.pk),
    }
    given = {key: names.get(value, value) for key, value in fields.items()}
    before = database_state()

    # when
    body = graphql(
        client, REASSIGN, {"input": reassign_input(attachment, **given)}, user=acme.company
    )

    # then
    payload = body["data"]["reassignStage"]
    assert payload["attachment"] is None
    code, field, message = expected
    assert payload["error"]["code"] == code
    if message is not None:
        assert (payload["error"]["field"], payload["error"]["message"]) == (field, message)
    assert database_state() == before


@pytest.mark.parametrize("who", ["anonymous", "approver", "employee"])
def test_only_workflow_managers_may_reassign(client, acme, who):
    # given: the step waits for the budget managers; neither they nor others may reassign
    request, attachment = attached_request(
        acme, two_stage_workflow(acme, user_approval(acme.user("budget_manager1")))
    )
    user = {"anonymous": None, "approver": acme.user("budget_manager1")}.get(
        who, acme.user("finance_reviewer1")
    )
    before = database_state()

    # when
    body = graphql(
        client,
        REASSIGN,
        {"input": reassign_input(attachment, toUserId=global_id("User", acme.user("cfo").pk))},
        user=user,
    )

    # then
    error = body["data"]["reassignStage"]["error"]
    assert error["code"] == ("UNAUTHENTICATED" if who == "anonymous" else "PERMISSION_DENIED")
    assert database_state() == before


def test_another_company_cannot_reassign_or_be_named(client, acme, globex):
    # given
    attachment = stuck(acme)
    before = database_state()

    # when: globex's company account on acme's attachment; acme naming globex's user and role
    foreign = graphql(
        client,
        REASSIGN,
        {"input": reassign_input(attachment, toUserId=global_id("User", globex.user("cfo").pk))},
        user=globex.company,
    )
    to_user = graphql(
        client,
        REASSIGN,
        {"input": reassign_input(attachment, toUserId=global_id("User", globex.user("cfo").pk))},
        user=acme.company,
    )
    to_role = graphql(
        client,
        REASSIGN,
        {
            "input": reassign_input(
                attachment, toRoleId=global_id("Role", globex.roles["Executive"].pk)
            )
        },
        user=acme.company,
    )

    # then: all three are NOT_FOUND, and nothing changed
    assert [
        (
            body["data"]["reassignStage"]["error"]["code"],
            body["data"]["reassignStage"]["error"]["field"],
        )
        for body in (foreign, to_user, to_role)
    ] == [("NOT_FOUND", "attachmentId"), ("NOT_FOUND", "toUserId"), ("NOT_FOUND", "toRoleId")]
    assert database_state() == before
