"""Enumerations shared by the engine, the admin and the GraphQL schema."""

from django.db import models


class AttachmentStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


LIVE_STATUSES = (AttachmentStatus.NOT_STARTED, AttachmentStatus.IN_PROGRESS)
FINISHED_STATUSES = (
    AttachmentStatus.COMPLETED,
    AttachmentStatus.REJECTED,
    AttachmentStatus.CANCELLED,
)


class EventType(models.TextChoices):
    ATTACHED = "attached", "Attached"
    STARTED = "started", "Started"
    CHECKED_IN = "checked_in", "Checked in"
    APPROVED = "approved", "Approved"
    STAGE_MOVED = "stage_moved", "Stage moved"
    PIPELINE_MOVED = "pipeline_moved", "Pipeline moved"
    DELEGATED = "delegated", "Delegated"
    RESUBMISSION_REQUESTED = "resubmission_requested", "Resubmission requested"
    REJECTED = "rejected", "Rejected"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    ACTION_FAILED = "action_failed", "Action failed"
    STATUS_NOT_WRITTEN = "status_not_written", "Object status not written"
    REMINDED = "reminded", "Reminded"
    TIMED_OUT = "timed_out", "Timed out"
    ESCALATED = "escalated", "Escalated"
    REASSIGNED = "reassigned", "Reassigned"
    STAGE_SKIPPED = "stage_skipped", "Stage skipped"


class TimeoutAction(models.TextChoices):
    """What ``process_deadlines`` does with a step whose due time has passed (``on_timeout``)."""

    ESCALATE = "escalate", "Escalate to a named user or role"
    REJECT = "reject", "Reject the workflow"
    APPROVE = "approve", "Approve the step"
    NOTIFY = "notify", "Notify the approvers only"


class WorkflowStatus(models.TextChoices):
    """Life cycle of a workflow template: only active ones can be attached."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class HandlerConvention(models.TextChoices):
    """How a stored action's handler is called, chosen from its signature when it is saved."""

    CONTEXT = "context", "handler(context, parameters)"
    ATTACHMENT = "attachment", "handler(workflow_attachment, action_parameters, **context)"


class ActionType(models.TextChoices):
    """When a stored workflow action runs (each maps to one kind of committed event)."""

    AFTER_APPROVE = "after_approve", "After approve"
    AFTER_REJECT = "after_reject", "After reject"
    AFTER_RESUBMISSION = "after_resubmission", "After resubmission"
    AFTER_DELEGATE = "after_delegate", "After delegate"
    AFTER_MOVE_STAGE = "after_move_stage", "After move stage"
    AFTER_MOVE_PIPELINE = "after_move_pipeline", "After move pipeline"
    ON_WORKFLOW_START = "on_workflow_start", "On workflow start"
    ON_WORKFLOW_COMPLETE = "on_workflow_complete", "On workflow complete"


class FailurePolicy(models.TextChoices):
    """What happens to the later actions of an event when one action fails."""

    CONTINUE = "continue", "Continue with the next action"
    STOP = "stop", "Skip the remaining actions of this event"


class ApprovalType(models.TextChoices):
    """Who approves: a named user or the members of a role."""

    USER = "user", "User"
    ROLE = "role", "Role"


class RoleSelectionStrategy(models.TextChoices):
    """How the members of a role share a step (the subset approval_workflow implements)."""

    ANYONE = "anyone", "Anyone"
    CONSENSUS = "consensus", "Consensus"
    ROUND_ROBIN = "round_robin", "Round robin"
    QUORUM = "quorum", "Quorum"
    MAJORITY = "majority", "Majority"
    PERCENTAGE = "percentage", "Percentage"


class ApprovalBehaviour(models.TextChoices):
    """What an approver has to do to complete a step."""

    APPROVE = "approve", "Approve"
    SUBMIT = "submit", "Submit a form"
    CHECK_IN_VERIFY = "check_in_verify", "Check in, then verify"
    MOVE = "move", "Move"


class ErrorCode(models.TextChoices):
    UNAUTHENTICATED = "UNAUTHENTICATED", "Unauthenticated"
    NOT_FOUND = "NOT_FOUND", "Not found"
    PERMISSION_DENIED = "PERMISSION_DENIED", "Permission denied"
    NOT_AN_APPROVER = "NOT_AN_APPROVER", "Not an approver"
    INVALID_STATE = "INVALID_STATE", "Invalid state"
    VALIDATION_ERROR = "VALIDATION_ERROR", "Validation error"
    FORM_REQUIRED = "FORM_REQUIRED", "Form required"
    CONFLICT = "CONFLICT", "Conflict"
