"""The seed's Purchase Request scenario end to end, through the Python API."""

import pytest

from backend.workflows.constants import AttachmentStatus, EventType
from backend.workflows.models import WorkflowEvent
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    get_workflow_progress,
)
from tests.support.helpers import approvers_of, make_purchase_request

pytestmark = pytest.mark.django_db


def test_purchase_request_runs_through_both_pipelines_to_completion(acme):
    # given
    request = make_purchase_request(acme)

    # when: attached and started
    attachment = attach_workflow_to_object(
        obj=request,
        workflow=acme.workflow,
        user=acme.user("requester"),
        metadata={"priority": "normal"},
    )

    # then: a clone runs, at Initial Review, 0 %
    assert attachment.workflow.cloned_from_id == acme.workflow.pk
    assert attachment.workflow.is_hidden is True
    progress = get_workflow_progress(attachment.workflow, request)
    assert progress["status"] == "in_progress"
    assert progress["current_stage"] == "Initial Review"
    assert progress["current_pipeline"] == "Finance Review"
    assert progress["progress_percentage"] == 0
    assert progress["next_stage"] == "Budget Approval"
    # round robin: exactly one reviewer holds the step
    reviewers = approvers_of(attachment)
    assert len(reviewers) == 1 and reviewers[0].startswith("acme-finance_reviewer")
    reviewer = next(u for u in acme.users.values() if u.username == reviewers[0])

    approve_stage(obj=request, user=reviewer, form_data={"budget_code": "BDG-1"})
    progress = get_workflow_progress(None, request)
    assert (progress["current_stage"], progress["progress_percentage"]) == ("Budget Approval", 25.0)
    assert approvers_of(attachment) == ["acme-budget_manager1", "acme-budget_manager2"]

    approve_stage(
        obj=request, user=acme.user("budget_manager2"), form_data={"allocated_budget": "5000"}
    )
    progress = get_workflow_progress(None, request)
    assert (progress["current_stage"], progress["progress_percentage"]) == (
        "Final Finance Sign-off",
        50.0,
    )
    assert approvers_of(attachment) == ["acme-cfo"]

    approve_stage(obj=request, user=acme.user("cfo"), form_data={"finance_ref": "FIN-1"})
    progress = get_workflow_progress(None, request)
    assert progress["current_pipeline"] == "Executive Approval"
    assert (progress["current_stage"], progress["progress_percentage"]) == (
        "Executive Approval",
        75.0,
    )
    assert progress["next_stage"] is None
    assert approvers_of(attachment) == ["acme-executive1", "acme-executive2"]

    # consensus: one executive is not enough
    approve_stage(obj=request, user=acme.user("executive1"))
    progress = get_workflow_progress(None, request)
    assert (progress["status"], progress["progress_percentage"]) == ("in_progress", 75.0)
    approve_stage(obj=request, user=acme.user("executive2"))

    progress = get_workflow_progress(None, request)
    assert progress["status"] == "completed"
    assert progress["progress_percentage"] == 100.0
    assert progress["next_stage"] is None
    assert progress["completed_at"] is not None
    request.refresh_from_db()
    assert request.workflow_status == "approved"
    types = list(
        WorkflowEvent.objects.filter(attachment=attachment).values_list("event_type", flat=True)
    )
    assert types == [
        EventType.ATTACHED,
        EventType.STARTED,
        EventType.APPROVED,
        EventType.STAGE_MOVED,
        EventType.APPROVED,
        EventType.STAGE_MOVED,
        EventType.APPROVED,
        EventType.PIPELINE_MOVED,
        EventType.STAGE_MOVED,
        EventType.APPROVED,
        EventType.APPROVED,
        EventType.COMPLETED,
    ]
    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.COMPLETED
