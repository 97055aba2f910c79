"""Deadlines configured through GraphQL: dueIn, remindBefore and onTimeout on ApprovalInput.

What a stage's approval carries is read back on ``Approval`` and drives the engine exactly as
the Python API's ``due_in`` / ``remind_before`` / ``on_timeout`` do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.workflows.constants import EventType
from backend.workflows.services import attach_workflow_to_object, create_workflow
from backend.workflows.services.deadlines import process_deadlines
from tests.support.database_state import database_state, event_types
from tests.support.helpers import global_id, graphql, make_purchase_request

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ERROR = "error { code field message }"
UPDATE_STAGE = (
    "mutation($input: UpdateStageInput!) { updateStage(input: $input) { stage { approvals {"
    " dueIn remindBefore onTimeout { action user { username } role { name } } } } " + ERROR + " } }"
)
ATTACHMENT = "query($id: ID!) { workflowAttachment(id: $id) { dueAt isOverdue } }"


def first_stage(scenario):
    return scenario.workflow.pipelines.order_by("order").first().stages.order_by("order").first()


def reviewer_approval(scenario, **deadline):
    role = scenario.roles["Finance Reviewer"]
    return {"approvalType": "ROLE", "roleId": global_id("Role", role.pk), **deadline}


def update_first_stage(client, scenario, approval, *, user=None):
    stage = first_stage(scenario)
    return graphql(
        client,
        UPDATE_STAGE,
        {"input": {"id": global_id("Stage", stage.pk), "approvals": [approval]}},
        user=user or scenario.company,
    )["data"]["updateStage"]


def test_a_deadline_set_through_graphql_is_read_back_and_drives_the_engine(client, acme):
    # given: the first stage gets a 48-hour deadline, a reminder 4 hours before, escalation
    cfo = acme.user("cfo")
    approval = reviewer_approval(
        acme,
        dueIn="48h",
        remindBefore="PT4H",
        onTimeout={"action": "ESCALATE", "userId": global_id("User", cfo.pk)},
    )

    # when
    payload = update_first_stage(client, acme, approval)

    # then: stored in ISO 8601 and read back with the escalation target
    assert payload["error"] is None
    assert payload["stage"]["approvals"] == [
        {
            "dueIn": "P2DT00H00M00S",
            "remindBefore": "P0DT04H00M00S",
            "onTimeout": {"action": "ESCALATE", "user": {"username": cfo.username}, "role": None},
        }
    ]
    # and a request attached at T0 is due at T0 + 48 h, overdue after, escalated to the CFO
    with mock.patch("django.utils.timezone.now", return_value=T0):
        request = make_purchase_request(acme, amount="500.00")
        attachment = attach_workflow_to_object(
            obj=request, workflow=acme.workflow, user=acme.user("requester")
        )
    attachment_id = global_id("WorkflowAttachment", attachment.pk)
    with mock.patch("django.utils.timezone.now", return_value=T0 + timedelta(hours=49)):
        due = graphql(client, ATTACHMENT, {"id": attachment_id}, user=acme.company)
    assert due["data"]["workflowAttachment"] == {
        "dueAt": "2026-03-04T09:00:00+00:00",
        "isOverdue": True,
    }
    process_deadlines(now=T0 + timedelta(hours=49))
    assert EventType.ESCALATED in event_types(attachment)


def test_a_timeout_to_a_role_and_no_deadline_read_back(client, acme):
    # given: escalation to the Executive role; then the deadline removed again
    executives = acme.roles["Executive"]
    with_role = reviewer_approval(
        acme,
        dueIn="P1D",
        onTimeout={"action": "ESCALATE", "roleId": global_id("Role", executives.pk)},
    )

    # when
    escalated = update_first_stage(client, acme, with_role)
    plain = update_first_stage(client, acme, reviewer_approval(acme))

    # then
    assert escalated["stage"]["approvals"][0]["onTimeout"] == {
        "action": "ESCALATE",
        "user": None,
        "role": {"name": executives.name},
    }
    assert plain["stage"]["approvals"] == [{"dueIn": None, "remindBefore": None, "onTimeout": None}]


@pytest.mark.parametrize(
    ("deadline", "code", "field", "message"),
    [
        (
            {"remindBefore": "4h"},
            "VALIDATION_ERROR",
            "approvals[0].remindBefore",
            "remind_before needs due_in.",
        ),
        (
            {"dueIn": "soon"},
            "VALIDATION_ERROR",
            "approvals[0].dueIn",
            "approvals[0].dueIn must be an ISO 8601 duration such as P2D or PT4H, "
            "or like 48h, 30m, 2d.",
        ),
        (
            {"dueIn": "P" + "1" * 60 + "D"},
            "VALIDATION_ERROR",
            "approvals[0].dueIn",
            "approvals[0].dueIn must be an ISO 8601 duration such as P2D or PT4H, "
            "or like 48h, 30m, 2d.",
        ),
        (
            {"dueIn": "400d"},
            "VALIDATION_ERROR",
            "approvals[0].dueIn",
            "approvals[0].dueIn must be longer than zero and at most 366 days.",
        ),
        (
            {"dueIn": "2h", "remindBefore": "3h"},
            "VALIDATION_ERROR",
            "approvals[0].remindBefore",
            "remind_before must be shorter than due_in.",
        ),
        (
            {"dueIn": "2d", "onTimeout": {"action": "ESCALATE"}},
            "VALIDATION_ERROR",
            "approvals[0].onTimeout",
            "An escalation names exactly one user or one role.",
        ),
        (
            {"dueIn": "2d", "onTimeout": {"action": "REJECT", "userId": "1"}},
            "VALIDATION_ERROR",
            "approvals[0].onTimeout",
            "on_timeout reject takes no user or role.",
        ),
    ],
    ids=["remind-alone", "garbage", "too-long", "over-a-year", "remind-late", "no-target", "extra"],
)
def test_a_bad_deadline_is_a_typed_error_and_changes_nothing(
    client, acme, deadline, code, field, message
):
    before = database_state()

    payload = update_first_stage(client, acme, reviewer_approval(acme, **deadline))

    assert payload["stage"] is None
    assert payload["error"] == {"code": code, "field": field, "message": message}
    assert database_state() == before


def test_escalation_to_another_companys_user_or_role_is_refused(client, acme, globex):
    # given: Globex's CFO and Globex's executives
    before = database_state()
    cfo, executives = globex.user("cfo"), globex.roles["Executive"]
    targets = {"userId": global_id("User", cfo.pk), "roleId": global_id("Role", executives.pk)}

    # when
    errors = [
        update_first_stage(
            client,
            acme,
            reviewer_approval(acme, dueIn="2d", onTimeout={"action": "ESCALATE", key: value}),
        )["error"]
        for key, value in targets.items()
    ]

    # then: refused as an approver of another company is (test_graphql_tenancy), nothing changed
    assert errors == [
        {
            "code": "VALIDATION_ERROR",
            "field": "approvals[0].onTimeout.userId",
            "message": f"User {cfo.pk} does not belong to this company.",
        },
        {
            "code": "VALIDATION_ERROR",
            "field": "approvals[0].onTimeout.roleId",
            "message": f"Role {executives.pk} has members outside this company.",
        },
    ]
    assert database_state() == before


def test_reading_escalation_targets_costs_the_same_queries_for_more_stages(client, acme):
    # given: workflows of 2 and of 8 stages, each escalating to a different user
    def workflow(name, stages):
        users = list(acme.users.values())[:stages]
        return create_workflow(
            company=acme.company,
            name_en=name,
            pipelines=[
                {
                    "name_en": "Main",
                    "stages": [
                        {
                            "name_en": f"Step {i}",
                            "approvals": [
                                {
                                    "approval_type": "user",
                                    "approval_user": acme.user("cfo").pk,
                                    "due_in": "2d",
                                    "on_timeout": {"action": "escalate", "user": user.pk},
                                }
                            ],
                        }
                        for i, user in enumerate(users)
                    ],
                }
            ],
        )

    query = (
        "query($id: ID!) { node(id: $id) { ... on Workflow { pipelines { stages { approvals {"
        " dueIn onTimeout { action user { username } role { name } } } } } } } }"
    )

    def count(workflow):
        with CaptureQueriesContext(connection) as queries:
            body = graphql(
                client, query, {"id": global_id("Workflow", workflow.pk)}, user=acme.company
            )
        stages = body["data"]["node"]["pipelines"][0]["stages"]
        assert all(s["approvals"][0]["onTimeout"]["user"] for s in stages)
        return len(stages), len(queries)

    # when
    small = count(workflow("Small", 2))
    large = count(workflow("Large", 8))

    # then
    assert (small[0], large[0]) == (2, 8)
    assert small[1] == large[1]
