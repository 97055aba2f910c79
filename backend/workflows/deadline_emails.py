"""E-mails about a step's deadline or holders: reminder, timed_out, escalated, reassigned.

They use the templates (``workflows/email/<language>/<name>*``) and the sending settings
(``WORKFLOW_SEND_EMAIL_FUNCTION``, ``WORKFLOW_DISABLE_EMAILS``, ``WORKFLOW_FROM_EMAIL``) of every
other workflow e-mail, and run after commit. Recipients are users of the attachment's company.
"""

from __future__ import annotations

import logging

from backend.workflows.models import WorkflowAttachment
from backend.workflows.notifications import send_bulk_workflow_emails
from backend.workflows.selectors import company_users

logger = logging.getLogger(__name__)


def send_step_emails(
    template: str,
    *,
    attachment_id: int,
    user_ids: list[int],
    due_at: str = "",
    reason: str = "",
    actor_name: str = "",
) -> dict[str, int]:
    """Send ``template`` about an attachment's current step to these users (after commit)."""
    attachment = (
        WorkflowAttachment.objects.select_related("workflow", "current_stage")
        .filter(pk=attachment_id)
        .first()
    )
    if attachment is None or not user_ids:
        return {"sent": 0, "failed": 0, "skipped": 0}
    recipients = list(company_users(attachment.company_id).filter(pk__in=user_ids))
    stage, workflow = attachment.current_stage, attachment.workflow
    target = attachment.target
    context = {
        "attachment_id": attachment.pk,
        "object": str(target) if target is not None else "",
        "object_id": attachment.object_id,
        "workflow_name": workflow.name_en,
        "workflow_name_ar": workflow.name_ar or workflow.name_en,
        "stage_name": stage.name_en if stage else "",
        "stage_name_ar": (stage.name_ar or stage.name_en) if stage else "",
        "due_at": due_at,
        "reason": reason,
        "actor_name": actor_name,
    }
    result = send_bulk_workflow_emails(name=template, recipients=recipients, context=context)
    if result["failed"]:
        logger.warning("Workflow e-mail %r: %s", template, result)
    return result
