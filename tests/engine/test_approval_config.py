"""Validation of a stage's approvals in validate_approvals, create_workflow and update_stage."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group

from backend.workflows.approval_config import validate_approvals
from backend.workflows.constants import ErrorCode
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import Stage
from backend.workflows.services import add_stage, create_workflow, update_stage
from tests.support.database_state import database_state

pytestmark = pytest.mark.django_db

MISSING_ID = 987_654


def _empty_role(acme, globex) -> Group:
    return Group.objects.create(name="Acme: Nobody")


def _mixed_role(acme, globex) -> Group:
    group = Group.objects.create(name="Acme and Globex")
    acme.user("employee").groups.add(group)
    globex.user("employee").groups.add(group)
    return group


def _inactive_user(acme, globex) -> Any:
    user = acme.user("employee")
    user.is_active = False
    user.save(update_fields=["is_active"])
    return user


# (case, approval builder, field suffix, message builder)
INVALID_APPROVALS = [
    (
        "unknown user",
        lambda acme, globex: {"approval_type": "user", "approval_user": MISSING_ID},
        "approvalUser",
        lambda a: f"User {MISSING_ID} does not exist.",
    ),
    (
        "inactive user",
        lambda acme, globex: {
            "approval_type": "user",
            "approval_user": _inactive_user(acme, globex).pk,
        },
        "approvalUser",
        lambda a: f"User {a['approval_user']} is not active.",
    ),
    (
        "user of another company",
        lambda acme, globex: {"approval_type": "user", "approval_user": globex.user("cfo").pk},
        "approvalUser",
        lambda a: f"User {a['approval_user']} does not belong to this company.",
    ),
    (
        "user approval without a user",
        lambda acme, globex: {"approval_type": "user"},
        "approvalUser",
        lambda a: "A user approval needs approval_user.",
    ),
    (
        "unknown role",
        lambda acme, globex: {"approval_type": "role", "user_role": MISSING_ID},
        "userRole",
        lambda a: f"Role {MISSING_ID} does not exist.",
    ),
    (
        "empty role",
        lambda acme, globex: {"approval_type": "role", "user_role": _empty_role(acme, globex).pk},
        "userRole",
        lambda a: f"Role {a['user_role']} has no active members.",
    ),
    (
        "role with members of another company",
        lambda acme, globex: {"approval_type": "role", "user_role": _mixed_role(acme, globex).pk},
        "userRole",
        lambda a: f"Role {a['user_role']} has members outside this company.",
    ),
    (
        "role of another company",
        lambda acme, globex: {"approval_type": "role", "user_role": globex.roles["Executive"].pk},
        "userRole",
        lambda a: f"Role {a['user_role']} has members outside this company.",
    ),
    (
        "unknown strategy",
        lambda acme, globex: {
            "approval_type": "role",
            "user_role": acme.roles["Executive"].pk,
            "role_selection_strategy": "lead_only",
        },
        "roleSelectionStrategy",
        lambda a: (
            "role_selection_strategy must be one of anyone, consensus, round_robin, quorum, majority, percentage."
        ),
    ),
    (
        "unknown form",
        lambda acme, globex: {
            "approval_type": "user",
            "approval_user": acme.user("cfo").pk,
            "required_form": MISSING_ID,
        },
        "requiredForm",
        lambda a: f"Form {MISSING_ID} does not exist.",
    ),
    (
        "form of another company",
        lambda acme, globex: {
            "approval_type": "user",
            "approval_user": acme.user("cfo").pk,
            "required_form": globex.forms["Final Approval Form"].pk,
        },
        "requiredForm",
        lambda a: f"Form {a['required_form']} does not exist.",
    ),
    (
        "quorum_count larger than the role",
        lambda acme, globex: {
            "approval_type": "role",
            "user_role": acme.roles["Executive"].pk,
            "role_selection_strategy": "quorum",
            "quorum_count": 3,
        },
        "quorumCount",
        lambda a: "quorum_count 3 exceeds the role's 2 active members.",
    ),
    (
        "quorum without quorum_count",
        lambda acme, globex: {
            "approval_type": "role",
            "user_role": acme.roles["Executive"].pk,
            "role_selection_strategy": "quorum",
        },
        "quorumCount",
        lambda a: "A quorum approval needs quorum_count >= 1.",
    ),
    (
        "percentage out of range",
        lambda acme, globex: {
            "approval_type": "role",
            "user_role": acme.roles["Executive"].pk,
            "role_selection_strategy": "percentage",
            "percentage_required": 150,
        },
        "percentageRequired",
        lambda a: "A percentage approval needs 0 < percentage_required <= 100.",
    ),
    (
        "move with a required form",
        lambda acme, globex: {
            "approval_type": "user",
            "approval_user": acme.user("cfo").pk,
            "behaviour": "move",
            "required_form": acme.forms["Final Approval Form"].pk,
        },
        "requiredForm",
        lambda a: "A move approval cannot require a form.",
    ),
    (
        "unknown behaviour",
        lambda acme, globex: {
            "approval_type": "user",
            "approval_user": acme.user("cfo").pk,
            "behaviour": "sign",
        },
        "behaviour",
        lambda a: "behaviour must be one of approve, submit, check_in_verify, move.",
    ),
    (
        "unknown approval type",
        lambda acme, globex: {"approval_type": "department", "approval_user": acme.user("cfo").pk},
        "approvalType",
        lambda a: "approval_type must be one of user, role.",
    ),
]
CASE_IDS = [case[0] for case in INVALID_APPROVALS]
CASES = [case[1:] for case in INVALID_APPROVALS]


@pytest.mark.parametrize(("build", "field", "message"), CASES, ids=CASE_IDS)
def test_validate_approvals_names_the_bad_field(acme, globex, build, field, message):
    # given: a valid first approval, then the bad one
    approval = build(acme, globex)
    approvals = [{"approval_type": "user", "approval_user": acme.user("cfo").pk}, approval]
    before = database_state()

    # when
    with pytest.raises(WorkflowValidationError) as raised:
        validate_approvals(approvals, company_id=acme.company.pk)

    # then
    assert (raised.value.code, raised.value.field, raised.value.message) == (
        ErrorCode.VALIDATION_ERROR,
        f"approvals[1].{field}",
        message(approval),
    )
    assert database_state() == before


@pytest.mark.parametrize(("build", "field", "message"), CASES, ids=CASE_IDS)
def test_create_workflow_with_a_bad_approval_writes_nothing(acme, globex, build, field, message):
    # given: the bad approval sits in the second stage of the second pipeline
    approval = build(acme, globex)
    cfo = {"approval_type": "user", "approval_user": acme.user("cfo").pk}
    pipelines = [
        {"name_en": "One", "stages": [{"name_en": "A", "approvals": [cfo]}]},
        {
            "name_en": "Two",
            "stages": [
                {"name_en": "B", "approvals": [cfo]},
                {"name_en": "C", "approvals": [approval]},
            ],
        },
    ]
    before = database_state()

    # when
    with pytest.raises(WorkflowValidationError) as raised:
        create_workflow(company=acme.company, name_en="Invalid", pipelines=pipelines)

    # then
    assert raised.value.field == f"pipelines[1].stages[1].approvals[0].{field}"
    assert raised.value.message == message(approval)
    assert database_state() == before


@pytest.mark.parametrize(("build", "field", "message"), CASES, ids=CASE_IDS)
def test_update_stage_with_a_bad_approval_writes_nothing(acme, globex, build, field, message):
    # given
    stage = Stage.objects.get(pipeline__workflow=acme.workflow, name_en="Budget Approval")
    approval = build(acme, globex)
    before = database_state()

    # when: a rename in the same call is not saved either
    with pytest.raises(WorkflowValidationError) as raised:
        update_stage(stage=stage, name_en="Renamed", approvals=[approval])

    # then
    assert (raised.value.field, raised.value.message) == (
        f"approvals[0].{field}",
        message(approval),
    )
    assert database_state() == before
    assert Stage.objects.get(pk=stage.pk).name_en == "Budget Approval"


def test_add_stage_with_a_bad_approval_writes_nothing(acme):
    pipeline = acme.workflow.pipelines.get(name_en="Executive Approval")
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        add_stage(
            pipeline=pipeline,
            name_en="Board",
            approvals=[{"approval_type": "role", "user_role": MISSING_ID}],
        )

    assert (raised.value.field, raised.value.message) == (
        "approvals[0].userRole",
        f"Role {MISSING_ID} does not exist.",
    )
    assert database_state() == before


@pytest.mark.parametrize(
    ("approvals", "field", "message"),
    [
        ({"approval_type": "user"}, "approvals", "Approvals must be a list."),
        (["user"], "approvals[0]", "Each approval must be an object."),
        (
            [{"approval_type": "user", "approval_user": 1, "level": 2}],
            "approvals[0]",
            "Unknown approval keys: level.",
        ),
        (
            [{"approval_type": "user", "approval_user": "abc"}],
            "approvals[0].approvalUser",
            "approvals[0].approvalUser must be an id.",
        ),
        (
            [{"approval_type": "user", "approval_user": True}],
            "approvals[0].approvalUser",
            "approvals[0].approvalUser must be an id.",
        ),
    ],
)
def test_validate_approvals_refuses_malformed_input(acme, approvals, field, message):
    with pytest.raises(WorkflowValidationError) as raised:
        validate_approvals(approvals, company_id=acme.company.pk)

    assert (raised.value.field, raised.value.message) == (field, message)


def test_validate_approvals_normalises_valid_input(acme):
    approvals = [
        {"approval_type": "USER", "approval_user": {"val": acme.user("cfo").pk}},
        {"approval_type": "role", "user_role": acme.roles["Executive"]},
        {
            "approval_type": "role",
            "user_role": acme.roles["Executive"].pk,
            "role_selection_strategy": "QUORUM",
            "quorum_count": 2,
            "behaviour": "check_in_verify",
            "required_form": acme.forms["Final Approval Form"].pk,
        },
    ]

    normalised = validate_approvals(approvals, company_id=acme.company.pk)

    assert normalised == [
        {"approval_type": "user", "behaviour": "approve", "approval_user": acme.user("cfo").pk},
        {
            "approval_type": "role",
            "behaviour": "approve",
            "user_role": acme.roles["Executive"].pk,
            "role_selection_strategy": "anyone",
        },
        {
            "approval_type": "role",
            "behaviour": "check_in_verify",
            "user_role": acme.roles["Executive"].pk,
            "role_selection_strategy": "quorum",
            "quorum_count": 2,
            "required_form": acme.forms["Final Approval Form"].pk,
        },
    ]
