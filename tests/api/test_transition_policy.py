"""The declared transition policy: what the API offers is exactly what the services accept.

Walks attachment status x action x kind of actor x permission settings. For each cell the
GraphQL field ``availableActions`` is read, then every action is tried through the service
(inside a savepoint that is rolled back); an action must be offered exactly when the
service accepts it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction

from backend.workflows.constants import AttachmentStatus
from backend.workflows.exceptions import WorkflowError, WorkflowValidationError
from backend.workflows.models import CompanyMembership, WorkflowAttachment
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    cancel_workflow,
    check_in_stage,
    create_workflow,
    decide_on_attachment,
    reject_stage,
    start_attachment,
)
from backend.workflows.transitions import TRANSITIONS, Action
from tests.support.helpers import api_token_for, graphql, make_purchase_request
from tests.support.workflow_builders import user_approval

pytestmark = pytest.mark.django_db

AVAILABLE = """
query($id: ID!) { workflowAttachment(id: $id) { status availableActions } }
"""

# Kinds of actor: the share holder, the starter, the company account, a member with no part,
# a member allowed to change attachments, a superuser of the company.
ACTORS = ("approver", "starter", "company", "member", "changer", "superuser")


class RolledBack(Exception):
    """Raised to roll a tried decision back."""


def _setting(settings: Any, **values: Any) -> None:
    engine = dict(settings.DJANGO_WORKFLOW_ENGINE)
    permissions = {**engine.get("PERMISSIONS", {}), **values.pop("PERMISSIONS", {})}
    settings.DJANGO_WORKFLOW_ENGINE = {**engine, **values, "PERMISSIONS": permissions}


def _grant(user: Any, *codenames: str) -> Any:
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return get_user_model().objects.get(pk=user.pk)  # permissions are cached per object


def _actors(acme: Any, approver: Any) -> dict[str, Any]:
    superuser = get_user_model().objects.create_superuser(
        "acme-root", "root@acme.example", password=None
    )
    CompanyMembership.objects.create(user=superuser, company=acme.company)
    changer = _grant(acme.user("executive1"), "change_workflowattachment")
    return {
        "approver": approver,
        "starter": acme.user("requester"),
        "company": acme.company,
        "member": acme.user("budget_manager1"),
        "changer": changer,
        "superuser": superuser,
    }


def _workflow(acme: Any, approver: Any, behaviour: str) -> Any:
    return create_workflow(
        company=acme.company,
        name_en=f"Policy {behaviour}",
        created_by=acme.company,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [
                    {
                        "name_en": "Step",
                        "approvals": [user_approval(approver, behaviour=behaviour)],
                    },
                    {"name_en": "After", "approvals": [user_approval(acme.user("cfo"))]},
                ],
            }
        ],
    )


def _state(acme: Any, approver: Any, state: str) -> WorkflowAttachment:
    """Return an attachment in ``state``, run as the requester."""
    behaviour = "check_in_verify" if state in ("check_in", "checked_in") else "approve"
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request,
        workflow=_workflow(acme, approver, behaviour),
        user=acme.user("requester"),
        auto_start=state != "not_started",
    )
    if state == "checked_in":
        check_in_stage(obj=request, user=approver)
    elif state == "completed":
        approve_stage(obj=request, user=approver)
        approve_stage(obj=request, user=acme.user("cfo"))
    elif state == "rejected":
        reject_stage(obj=request, user=approver, reason="No")
    elif state == "cancelled":
        cancel_workflow(obj=request, user=acme.user("requester"))
    return WorkflowAttachment.objects.get(pk=attachment.pk)


def _try(acme: Any, attachment: WorkflowAttachment, action: str, user: Any) -> str:
    """Try ``action`` by ``user`` through the service, then roll it back; return the outcome.

    ``accepted``, ``refused`` (the policy said no: status, permission, who may act) or
    ``invalid`` (the policy allowed it, the data did not: a VALIDATION_ERROR).
    """
    fresh_user = get_user_model().objects.get(pk=user.pk)
    calls: dict[str, Callable[[], Any]] = {
        Action.START: lambda: start_attachment(attachment_id=attachment.pk, user=fresh_user),
    }
    arguments = {
        Action.REJECT: {"reason": "No"},
        Action.DELEGATE: {"to_user": acme.user("budget_manager2").pk},
        Action.REQUEST_RESUBMISSION: {"reason": "Redo", "stage": attachment.current_stage_id},
        Action.REASSIGN: {"reason": "Stuck", "to_user": acme.user("budget_manager2").pk},
    }
    call = calls.get(action) or (
        lambda: decide_on_attachment(
            action=action,
            attachment_id=attachment.pk,
            user=fresh_user,
            expected_stage=attachment.current_stage_id,
            **arguments.get(action, {}),
        )
    )
    try:
        with transaction.atomic():
            call()
            raise RolledBack
    except RolledBack:
        return "accepted"
    except WorkflowValidationError:
        return "invalid"
    except WorkflowError:
        return "refused"


VARIANTS = {
    # name: (settings, whether the approver is the starter, grant the permissions to)
    "defaults": ({}, False, ()),
    "permissions required, nobody holds them": (
        {
            "PERMISSIONS": {
                "REQUIRE_PERMISSION_TO_START": True,
                "REQUIRE_PERMISSION_TO_APPROVE": True,
            }
        },
        False,
        (),
    ),
    "permissions required, approver and starter hold them": (
        {
            "PERMISSIONS": {
                "REQUIRE_PERMISSION_TO_START": True,
                "REQUIRE_PERMISSION_TO_APPROVE": True,
            }
        },
        False,
        ("approver", "starter"),
    ),
    "self approval allowed, the starter approves": ({"ALLOW_SELF_APPROVAL": True}, True, ()),
    "self approval refused after the start": ({"ALLOW_SELF_APPROVAL": False}, True, ()),
}
INVALID_CELLS = {
    "defaults": [("not_started", "approver", "start")],
    "permissions required, nobody holds them": [],
    "permissions required, approver and starter hold them": [("not_started", "approver", "start")],
    "self approval allowed, the starter approves": [],
    # the approver is the starter here: both kinds of actor are the requester
    "self approval refused after the start": [
        ("not_started", "approver", "start"),
        ("not_started", "starter", "start"),
    ],
}
STATES = (
    "not_started",
    "in_progress",
    "check_in",
    "checked_in",
    "completed",
    "rejected",
    "cancelled",
)
STATUS_OF = {
    "not_started": AttachmentStatus.NOT_STARTED,
    "in_progress": AttachmentStatus.IN_PROGRESS,
    "check_in": AttachmentStatus.IN_PROGRESS,
    "checked_in": AttachmentStatus.IN_PROGRESS,
    "completed": AttachmentStatus.COMPLETED,
    "rejected": AttachmentStatus.REJECTED,
    "cancelled": AttachmentStatus.CANCELLED,
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_available_actions_offer_exactly_what_the_services_accept(client, acme, settings, variant):
    # given
    engine_settings, starter_approves, granted = VARIANTS[variant]
    approver = acme.user("requester") if starter_approves else acme.user("employee")
    actors = _actors(acme, approver)
    for name in granted:
        actors[name] = _grant(actors[name], "start_workflow", "approve_workflow")
    tokens = {name: api_token_for(user) for name, user in actors.items()}
    if starter_approves:
        # the attachments are started while the starter may still be its approver
        _setting(settings, ALLOW_SELF_APPROVAL=True)
    attachments = {state: _state(acme, approver, state) for state in STATES}
    _setting(settings, **engine_settings)

    mismatches, invalid = [], []
    cells_with_actions = 0
    for state, attachment in attachments.items():
        for name, user in actors.items():
            # when
            body = graphql(client, AVAILABLE, {"id": str(attachment.pk)}, token=tokens[name])
            data = body["data"]["workflowAttachment"]
            assert data["status"] == STATUS_OF[state].upper(), body
            offered = {value.lower() for value in data["availableActions"]}
            outcomes = {a.value: _try(acme, attachment, a, user) for a in TRANSITIONS}
            allowed = {a for a, outcome in outcomes.items() if outcome != "refused"}

            # then
            if offered != allowed:
                mismatches.append((state, name, sorted(offered), sorted(allowed)))
            invalid += [(state, name, a) for a, outcome in outcomes.items() if outcome == "invalid"]
            cells_with_actions += bool(allowed)

    assert mismatches == []
    # The only data refusal: the first stage's approver cannot start the workflow without
    # self-approval (they would approve what they started).
    assert invalid == INVALID_CELLS[variant]
    # the walk met both answers: some cells offer actions, some offer none
    assert 0 < cells_with_actions < len(STATES) * len(ACTORS)


EXPECTED_DEFAULTS = {
    # state: {actor: actions}, with the default settings (cancel: starter, company, changer,
    # superuser; reassign: company, changer, superuser; step decisions: the approver only)
    "not_started": {
        "approver": {"start"},
        # not started yet: whoever attached it is not its starter
        "starter": {"start"},
        "company": {"start", "cancel"},
        "member": {"start"},
        "changer": {"start", "cancel"},
        "superuser": {"start", "cancel"},
    },
    "in_progress": {
        "approver": {"approve", "reject", "delegate", "request_resubmission"},
        "starter": {"cancel"},
        "company": {"cancel", "reassign"},
        "member": set(),
        "changer": {"cancel", "reassign"},
        "superuser": {"cancel", "reassign"},
    },
    "check_in": {"approver": {"approve", "check_in", "reject", "delegate", "request_resubmission"}},
    "checked_in": {"approver": {"approve", "verify", "reject", "delegate", "request_resubmission"}},
    "completed": {name: set() for name in ACTORS},
}


def test_the_policy_answers_as_declared_with_the_default_settings(client, acme):
    # given
    approver = acme.user("employee")
    actors = _actors(acme, approver)
    tokens = {name: api_token_for(user) for name, user in actors.items()}

    for state, expected in EXPECTED_DEFAULTS.items():
        attachment = _state(acme, approver, state)
        for name, actions in expected.items():
            # when
            body = graphql(client, AVAILABLE, {"id": str(attachment.pk)}, token=tokens[name])

            # then
            offered = {
                value.lower() for value in body["data"]["workflowAttachment"]["availableActions"]
            }
            assert (state, name, offered) == (state, name, actions)


EVENT_SNAPSHOTS = """
query($id: ID!) {
  workflowAttachment(id: $id) { events(first: 100) { nodes { snapshot { status openActions } } } }
}
"""


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (
            "in_progress",
            [
                "APPROVE",
                "CHECK_IN",
                "VERIFY",
                "REJECT",
                "DELEGATE",
                "REQUEST_RESUBMISSION",
                "CANCEL",
                "REASSIGN",
            ],
        ),
        ("completed", []),
        ("cancelled", []),
    ],
)
def test_event_snapshots_carry_the_actions_the_policy_leaves_open(client, acme, state, expected):
    # given
    approver = acme.user("employee")
    attachment = _state(acme, approver, state)

    # when
    body = graphql(client, EVENT_SNAPSHOTS, {"id": str(attachment.pk)}, user=acme.user("requester"))

    # then
    # the snapshot of the latest event: the state it left the attachment in
    node = body["data"]["workflowAttachment"]["events"]["nodes"][-1]
    assert node["snapshot"] == {"status": STATUS_OF[state].upper(), "openActions": expected}
