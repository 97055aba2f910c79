"""Snapshots of every table the engine writes, for "bad input changes nothing" assertions."""

from __future__ import annotations

from typing import Any

from approval_workflow.models import ApprovalFlow, ApprovalInstance
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from backend.demo.models import PurchaseRequest
from backend.workflows.models import (
    DynamicForm,
    OutOfOffice,
    Pipeline,
    Stage,
    Workflow,
    WorkflowAction,
    WorkflowAttachment,
    WorkflowConfiguration,
    WorkflowEvent,
)

SNAPSHOT_MODELS = (
    Workflow,
    Pipeline,
    Stage,
    WorkflowAction,
    WorkflowAttachment,
    WorkflowEvent,
    WorkflowConfiguration,
    ApprovalFlow,
    ApprovalInstance,
    PurchaseRequest,
    DynamicForm,
    Group,
    OutOfOffice,
)


def database_state() -> dict[str, Any]:
    """Return every row (all columns) of the tables a workflow action may write."""
    state: dict[str, Any] = {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in SNAPSHOT_MODELS
    }
    state["users"] = list(
        get_user_model().objects.order_by("pk").values("pk", "is_active", "groups")
    )
    return state


def attachment_state(attachment: WorkflowAttachment) -> tuple[str, str | None, str | None]:
    """Return ``(status, current pipeline name, current stage name)`` as stored in the database."""
    attachment = WorkflowAttachment.objects.select_related("current_stage", "current_pipeline").get(
        pk=attachment.pk
    )
    return (
        attachment.status,
        attachment.current_pipeline.name_en if attachment.current_pipeline else None,
        attachment.current_stage.name_en if attachment.current_stage else None,
    )


def event_types(attachment: WorkflowAttachment) -> list[str]:
    """Return the event types recorded for an attachment, oldest first."""
    return list(
        WorkflowEvent.objects.filter(attachment=attachment)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def approval_rows(attachment: WorkflowAttachment) -> list[tuple[int, str, str | None, str | None]]:
    """Return ``(step, status, assignee, stage name)`` for every approval row of the attachment's object.

    Rows are sorted by step, then assignee: the package creates a role's rows in no set order.
    """
    stage_names = dict(
        Stage.objects.filter(pipeline__workflow_id=attachment.workflow_id).values_list(
            "pk", "name_en"
        )
    )
    rows = ApprovalInstance.objects.filter(
        flow__content_type_id=attachment.content_type_id, flow__object_id=attachment.object_id
    ).order_by("step_number", "assigned_to__username", "id")
    return [
        (
            row.step_number,
            row.status,
            row.assigned_to.username if row.assigned_to else None,
            stage_names.get((row.extra_fields or {}).get("stage_id")),
        )
        for row in rows.select_related("assigned_to")
    ]
