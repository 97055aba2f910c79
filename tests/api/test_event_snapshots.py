"""Events point to the real attachment, stages and pipelines and keep their own snapshot.

ATTACHED is recorded on attach (with or without auto-start); each event's ``snapshot`` is the
state right after it, so an old event never reads back as the current state.
"""

from __future__ import annotations

import pytest

from backend.workflows.services import attach_workflow_to_object, start_attachment
from tests.support.helpers import global_id, graphql, make_purchase_request
from tests.support.purchase_steps import approve_current_stage

pytestmark = pytest.mark.django_db

HISTORY = """
query($id: ID!) { workflowAttachment(id: $id) { events(first: 100) { nodes {
  type
  attachment { id status }
  fromStage { id nameEn } toStage { id nameEn } toPipeline { id nameEn }
  snapshot { status currentStageName currentPipelineName
    progress { percentage completedStages totalStages } openActions }
} } } }
"""


def _history(client, scenario, attachment):
    body = graphql(
        client,
        HISTORY,
        {"id": global_id("WorkflowAttachment", attachment.pk)},
        user=scenario.company,
    )
    assert "errors" not in body, body
    return body["data"]["workflowAttachment"]["events"]["nodes"]


def test_attach_without_auto_start_records_attached_in_the_not_started_state(client, acme):
    # given
    request = make_purchase_request(acme)

    # when
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester"), auto_start=False
    )

    # then
    (attached,) = _history(client, acme, attachment)
    assert attached == {
        "type": "ATTACHED",
        "attachment": {
            "id": global_id("WorkflowAttachment", attachment.pk),
            "status": "NOT_STARTED",
        },
        "fromStage": None,
        "toStage": None,
        "toPipeline": None,
        "snapshot": {
            "status": "NOT_STARTED",
            "currentStageName": None,
            "currentPipelineName": None,
            "progress": {"percentage": 0.0, "completedStages": 0, "totalStages": 4},
            "openActions": ["START", "CANCEL"],
        },
    }


def test_each_event_keeps_the_state_right_after_it(client, acme):
    # given: attached, started, and its first stage approved
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester"), auto_start=False
    )
    start_attachment(
        attachment_id=attachment.pk, user=acme.user("requester"), company_id=acme.company.pk
    )
    attachment.refresh_from_db()
    approve_current_stage(attachment, request)
    attachment.refresh_from_db()

    # when
    history = _history(client, acme, attachment)

    # then: the attachment is the current one everywhere, each snapshot its own
    current = {"id": global_id("WorkflowAttachment", attachment.pk), "status": "IN_PROGRESS"}
    assert [event["attachment"] for event in history] == [current] * 4
    assert [
        (
            event["type"],
            event["snapshot"]["status"],
            event["snapshot"]["currentStageName"],
            event["snapshot"]["progress"]["completedStages"],
        )
        for event in history
    ] == [
        ("ATTACHED", "NOT_STARTED", None, 0),
        ("STARTED", "IN_PROGRESS", "Initial Review", 0),
        ("APPROVED", "IN_PROGRESS", "Budget Approval", 1),
        ("STAGE_MOVED", "IN_PROGRESS", "Budget Approval", 1),
    ]
    moved = history[3]
    assert (moved["fromStage"]["nameEn"], moved["toStage"]["nameEn"]) == (
        "Initial Review",
        "Budget Approval",
    )
    assert moved["toStage"]["id"] == global_id("Stage", attachment.current_stage_id)
