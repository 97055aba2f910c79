"""Separation of duties: the user who started an attachment is never one of its approvers.

``DJANGO_WORKFLOW_ENGINE['ALLOW_SELF_APPROVAL']`` (default False) turns it off.
"""

from __future__ import annotations

from typing import Any

import pytest
from approval_workflow.models import ApprovalInstance
from django.contrib.auth.models import Group

from backend.workflows.constants import AttachmentStatus, EventType
from backend.workflows.exceptions import NotAnApproverError, WorkflowValidationError
from backend.workflows.models import Workflow
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    create_workflow,
    delegate_stage,
)
from tests.support.database_state import attachment_state, database_state, event_types
from tests.support.helpers import approvers_of, make_purchase_request
from tests.support.workflow_builders import role_approval, user_approval

pytestmark = pytest.mark.django_db

NO_ELIGIBLE = (
    "Stage '{}' has no eligible approver: the user who started the workflow cannot approve it."
)


@pytest.fixture
def self_approval(settings):
    """Turn ALLOW_SELF_APPROVAL on for one test."""
    settings.DJANGO_WORKFLOW_ENGINE = {
        **settings.DJANGO_WORKFLOW_ENGINE,
        "ALLOW_SELF_APPROVAL": True,
    }


def role_with(acme: Any, *names: str) -> Group:
    """Return a new role whose members are the requester and the named users."""
    role = Group.objects.create(name=f"Acme: reviewers {Group.objects.count()}")
    for user in (acme.user("requester"), *(acme.user(name) for name in names)):
        user.groups.add(role)
    return role


def workflow_of(acme: Any, *stages: tuple[str, dict[str, Any]]) -> Workflow:
    """Return a one-pipeline template with one approval per stage."""
    return create_workflow(
        company=acme.company,
        name_en="Self approval",
        created_by=acme.company,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [{"name_en": name, "approvals": [approval]} for name, approval in stages],
            }
        ],
    )


def start(acme: Any, workflow: Workflow) -> tuple[Any, Any]:
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=acme.user("requester")
    )
    return request, attachment


def shares(attachment: Any) -> list[tuple[str, int | None, int | None]]:
    """Return ``(assignee, quorum count, quorum total)`` of every current row, by assignee."""
    return sorted(
        ApprovalInstance.objects.filter(
            flow__content_type_id=attachment.content_type_id,
            flow__object_id=attachment.object_id,
            status="current",
        ).values_list("assigned_to__username", "quorum_count", "quorum_total")
    )


def test_the_starter_is_left_out_of_a_role_step_and_cannot_approve_it(acme):
    # given: the requester is a member of the approving role (anyone)
    role = role_with(acme, "employee")
    request, attachment = start(
        acme,
        workflow_of(
            acme, ("Review", role_approval(role)), ("Sign", user_approval(acme.user("cfo")))
        ),
    )

    # then: only the other member holds a share
    assert approvers_of(attachment) == ["acme-employee"]
    before = database_state()
    with pytest.raises(NotAnApproverError) as raised:
        approve_stage(obj=request, user=acme.user("requester"))
    assert raised.value.message == "You are not an approver of the current stage."
    assert database_state() == before

    # the other member approves as usual
    approve_stage(obj=request, user=acme.user("employee"))
    assert attachment_state(attachment)[2] == "Sign"


@pytest.mark.parametrize(
    ("strategy", "extra", "members", "expected"),
    [
        # consensus: every other member, the requester not awaited
        (
            "consensus",
            {},
            ("employee", "cfo"),
            [("acme-cfo", None, None), ("acme-employee", None, None)],
        ),
        # majority of three others: two
        (
            "majority",
            {},
            ("employee", "cfo", "executive1"),
            [("acme-cfo", 2, 3), ("acme-employee", 2, 3), ("acme-executive1", 2, 3)],
        ),
        # 50 percent of two others: one
        (
            "percentage",
            {"percentage_required": 50},
            ("employee", "cfo"),
            [("acme-cfo", 1, 2), ("acme-employee", 1, 2)],
        ),
        # a quorum of two among two others
        (
            "quorum",
            {"quorum_count": 2},
            ("employee", "cfo"),
            [("acme-cfo", 2, 2), ("acme-employee", 2, 2)],
        ),
    ],
)
def test_counts_of_a_role_step_are_computed_without_the_starter(
    acme, strategy, extra, members, expected
):
    role = role_with(acme, *members)

    request, attachment = start(
        acme, workflow_of(acme, ("Review", role_approval(role, strategy, **extra)))
    )

    assert shares(attachment) == expected


def test_a_round_robin_step_that_picked_the_starter_goes_to_another_member(acme):
    # given: the requester has the fewest assignments, so the package picks them first
    role = role_with(acme, "employee")

    request, attachment = start(
        acme, workflow_of(acme, ("Review", role_approval(role, "round_robin")))
    )

    assert approvers_of(attachment) == ["acme-employee"]


def test_a_role_with_nobody_but_the_starter_cannot_start(acme):
    role = role_with(acme)
    workflow = workflow_of(acme, ("Review", role_approval(role)))
    request = make_purchase_request(acme)
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        attach_workflow_to_object(obj=request, workflow=workflow, user=acme.user("requester"))

    assert (raised.value.field, raised.value.message) == ("approvals", NO_ELIGIBLE.format("Review"))
    assert database_state() == before


def test_a_quorum_larger_than_the_other_members_cannot_start(acme):
    role = role_with(acme, "employee")
    workflow = workflow_of(acme, ("Review", role_approval(role, "quorum", quorum_count=2)))
    request = make_purchase_request(acme)
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        attach_workflow_to_object(obj=request, workflow=workflow, user=acme.user("requester"))

    assert raised.value.message == NO_ELIGIBLE.format("Review")
    assert database_state() == before


def test_the_starter_named_as_a_user_approver_is_refused_when_the_stage_opens(acme):
    # given: the second stage names the requester
    workflow = workflow_of(
        acme,
        ("Review", user_approval(acme.user("employee"))),
        ("Own sign-off", user_approval(acme.user("requester"))),
    )
    request, attachment = start(acme, workflow)
    before = database_state()

    # when: the approval that would open it
    with pytest.raises(WorkflowValidationError) as raised:
        approve_stage(obj=request, user=acme.user("employee"))

    # then: nothing changed
    assert (raised.value.field, raised.value.message) == (
        "approvals",
        NO_ELIGIBLE.format("Own sign-off"),
    )
    assert database_state() == before


def test_a_step_cannot_be_delegated_to_the_starter(acme):
    request, attachment = start(
        acme, workflow_of(acme, ("Review", user_approval(acme.user("employee"))))
    )
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        delegate_stage(obj=request, user=acme.user("employee"), to_user=acme.user("requester"))

    assert (raised.value.field, raised.value.message) == (
        "toUserId",
        "You cannot delegate a step to the user who started the workflow.",
    )
    assert database_state() == before


def test_allow_self_approval_restores_the_starter_as_an_approver(acme, self_approval):
    # given: the requester is in the role and named on the second stage
    role = role_with(acme, "employee")
    workflow = workflow_of(
        acme,
        ("Review", role_approval(role, "consensus")),
        ("Own sign-off", user_approval(acme.user("requester"))),
    )
    request, attachment = start(acme, workflow)
    assert approvers_of(attachment) == ["acme-employee", "acme-requester"]

    # when: the requester approves both stages (with the employee's share)
    approve_stage(obj=request, user=acme.user("requester"))
    approve_stage(obj=request, user=acme.user("employee"))
    approve_stage(obj=request, user=acme.user("requester"))

    # then
    assert attachment_state(attachment)[0] == AttachmentStatus.COMPLETED
    assert event_types(attachment)[-1] == EventType.COMPLETED
