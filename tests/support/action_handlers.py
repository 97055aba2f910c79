"""Action handlers used by the tests (the module tests list in WORKFLOW_ACTION_ALLOWED_MODULES)."""

from __future__ import annotations

from os import system as run_shell  # noqa: F401  (a re-exported callable must stay refused)
from typing import Any

from backend.workflows.actions import workflow_action
from backend.workflows.models import WorkflowAttachment

# Every call of the recording handlers: (handler name, action type, context, parameters).
CALLS: list[tuple[str, str, Any, dict[str, Any]]] = []
SENT: list[dict[str, Any]] = []
ALLOWED = "tests.support.action_handlers"


def record(context: Any, parameters: dict[str, Any]) -> None:
    CALLS.append(("record", context.action_type, context, parameters))


def record_other(context: Any, parameters: dict[str, Any]) -> None:
    CALLS.append(("record_other", context.action_type, context, parameters))


def fail(context: Any, parameters: dict[str, Any]) -> None:
    CALLS.append(("fail", context.action_type, context, parameters))
    raise RuntimeError(parameters.get("message", "handler exploded"))


def write_then_fail(context: Any, parameters: dict[str, Any]) -> None:
    """Change the attachment's metadata, then fail: the change must be rolled back."""
    WorkflowAttachment.objects.filter(pk=context.attachment.pk).update(metadata={"touched": True})
    raise RuntimeError("failed after writing")


def record_attachment_exists(context: Any, parameters: dict[str, Any]) -> None:
    exists = WorkflowAttachment.objects.filter(pk=context.attachment.pk).exists()
    CALLS.append(("exists", context.action_type, context, {"exists": exists}))


def wrong_signature(context: Any) -> None:
    """Takes one argument only: refused as a handler."""


def _private(context: Any, parameters: dict[str, Any]) -> None:
    CALLS.append(("private", context.action_type, context, parameters))


@workflow_action(name="registered.outside.allow_list")
def registered(context: Any, parameters: dict[str, Any]) -> None:
    CALLS.append(("registered", context.action_type, context, parameters))


def send_email(
    name: str, email: str, subject: str, context: dict[str, Any], user: Any = None
) -> bool:
    """A WORKFLOW_SEND_EMAIL_FUNCTION with the seed's signature that records instead of sending."""
    SENT.append(
        {"name": name, "email": email, "subject": subject, "context": context, "user": user}
    )
    return True


def failing_send_email(
    name: str, email: str, subject: str, context: dict[str, Any], user: Any = None
) -> bool:
    if email.startswith("broken"):
        raise ConnectionError("SMTP down")
    return email != "refused@example.com"
