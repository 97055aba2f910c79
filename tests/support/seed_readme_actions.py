"""The seed README's action handlers, as written there (``myapp.workflow_actions`` and
``myapp.actions``), for ``tests/engine/test_seed_readme_replay.py``.

Adaptations, each listed in the compatibility page: import paths; the Quick Example reads the
approved stage from ``context['approved_stage']`` (``attachment.current_stage`` is already the
next stage when ``after_approve`` runs); ``requests`` is not a dependency, so a recording
stand-in answers ``requests.post``.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from django.core.mail import send_mail

logger = logging.getLogger(__name__)

# What the stand-in for ``requests.post`` received.
POSTS: list[dict[str, Any]] = []
# The custom handlers' results, by handler name.
RESULTS: list[tuple[str, Any]] = []


def _post(url: str, json: Any = None, headers: Any = None) -> Any:
    POSTS.append({"url": url, "json": json, "headers": headers})
    return SimpleNamespace(status_code=200)


requests = SimpleNamespace(post=_post)


# --------------------------------------------------------------------------- Custom Actions: Quick Example


def send_approval_notification(context, parameters=None):
    """Send email when stage is approved"""
    attachment = context["attachment"]  # noqa: F841  (as in the README)
    user = context.get("user")

    recipients = parameters.get("recipients", [])

    send_mail(
        subject=f"Stage '{context['approved_stage'].name_en}' Approved",
        message=f"Approved by {user.get_full_name()}",
        from_email="noreply@company.com",
        recipient_list=recipients,
    )

    return {"email_sent": True}


# --------------------------------------------------------------------------- Writing Custom Action Handlers


def send_custom_approval(workflow_attachment, action_parameters, **context):
    """
    Custom action handler for approval notifications.

    Args:
        workflow_attachment: WorkflowAttachment instance
        action_parameters: Dict from action configuration
        **context: Additional context (user, stage, reason, etc.)

    Returns:
        bool: True if action succeeded
    """
    from backend.workflows.notifications import resolve_recipients, send_bulk_workflow_emails

    # Get parameters
    template = action_parameters.get("template", "default_template")
    recipient_types = action_parameters.get("recipients", ["creator"])
    subject = action_parameters.get("subject", "Workflow Update")  # noqa: F841

    # Resolve recipients
    email_addresses = resolve_recipients(
        recipient_types=recipient_types, workflow_attachment=workflow_attachment, **context
    )

    if not email_addresses:
        return False

    # Build context
    email_context = {
        "workflow_name": workflow_attachment.workflow.name_en,
        "current_stage": workflow_attachment.current_stage.name_en
        if workflow_attachment.current_stage
        else "N/A",
        "user": context.get("user"),
        "custom_field": action_parameters.get("custom_field"),
    }

    # Send emails
    result = send_bulk_workflow_emails(
        name=template, recipients=list(email_addresses), context=email_context, deduplicate=False
    )

    RESULTS.append(("send_custom_approval", result))
    return result["sent"] > 0


def update_external_system(workflow_attachment, action_parameters, **context):
    """Example: Update external CRM system."""
    api_endpoint = action_parameters.get("api_endpoint")
    api_key = action_parameters.get("api_key")

    try:
        response = requests.post(
            api_endpoint,
            json={
                "workflow_id": workflow_attachment.workflow.id,
                "status": workflow_attachment.status,
                "stage": workflow_attachment.current_stage.name_en
                if workflow_attachment.current_stage
                else None,
            },
            headers={"Authorization": f"Bearer {api_key}"},
        )
        return response.status_code == 200
    except Exception as e:
        logger.error(f"External system update failed: {e}")
        return False


# The other paths named by the README's "Custom Actions via API" payload.
def send_custom_rejection(workflow_attachment, action_parameters, **context):
    RESULTS.append(("send_custom_rejection", action_parameters))
    return True


def notify_finance_team(workflow_attachment, action_parameters, **context):
    RESULTS.append(("notify_finance_team", action_parameters))
    return True


def update_budget_system(workflow_attachment, action_parameters, **context):
    RESULTS.append(("update_budget_system", action_parameters))
    return True
