"""GraphQL enums: strawberry's view of the engine's ``TextChoices``, one definition each.

A GraphQL value is the member's name (``IN_PROGRESS``); resolvers may return the member or
its stored string (``"in_progress"``) alike. Every value is described here, in words a client
developer needs (what it means, when it happens); the choice's label is only a fallback, and
``tests/api/test_enum_descriptions.py`` fails when a value has no description of its own.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

import strawberry

from backend.workflows.constants import (
    ApprovalBehaviour,
    ApprovalType,
    AttachmentStatus,
    EventType,
    RoleSelectionStrategy,
    TimeoutAction,
    WorkflowStatus,
)
from backend.workflows.transitions import Action

_Choices = TypeVar("_Choices", bound=type[Enum])


def choices_enum(
    choices: _Choices,
    *,
    name: str,
    description: str,
    values: dict[str, str] | None = None,
) -> _Choices:
    """Expose ``choices`` as the GraphQL enum ``name``, each value described.

    ``values`` maps a member name to its description; the others use the member's label.
    """
    exposed = strawberry.enum(choices, name=name, description=description)
    for value in exposed.__strawberry_definition__.values:  # type: ignore[attr-defined]
        member = choices[value.name]
        value.description = (values or {}).get(value.name) or str(
            getattr(member, "label", member.value)
        )
    return exposed


choices_enum(
    AttachmentStatus,
    name="AttachmentStatus",
    description="Where a workflow attachment stands.",
    values={
        "NOT_STARTED": "Attached but not started yet (autoStart was false).",
        "IN_PROGRESS": "Running: its current stage waits for decisions.",
        "COMPLETED": "Every stage was approved.",
        "REJECTED": "An approver rejected it.",
        "CANCELLED": "Cancelled before it finished.",
    },
)
choices_enum(
    EventType,
    name="WorkflowEventType",
    description="What happened to an attachment. ACTION_FAILED: a stored action raised; "
    "STATUS_NOT_WRITTEN: the business object had no configured status field when the "
    "workflow finished (it finished anyway).",
    values={
        "ATTACHED": "A workflow was attached to the business object (before STARTED when it "
        "starts at once).",
        "STARTED": "The workflow started: its first stage opened for decisions.",
        "CHECKED_IN": "An approver checked in on a check-in-then-verify step.",
        "APPROVED": "An approver approved (or verified) their share of the current step.",
        "STAGE_MOVED": "The workflow moved on to the next stage of the same pipeline.",
        "PIPELINE_MOVED": "The workflow moved on to the first stage of the next pipeline.",
        "DELEGATED": "An approver handed their share of the step to a colleague.",
        "RESUBMISSION_REQUESTED": "An approver sent the workflow back to an earlier stage.",
        "REJECTED": "An approver rejected it; the workflow ended as REJECTED.",
        "COMPLETED": "The last stage was approved; the workflow ended as COMPLETED.",
        "CANCELLED": "Someone allowed to cancel stopped the workflow before it finished.",
        "ACTION_FAILED": "A stored action run after an event raised; details hold the error.",
        "STATUS_NOT_WRITTEN": "The workflow finished but the business object had no "
        "configured status field to write the result to.",
        "REMINDED": "The holders of a step nearing its deadline were reminded.",
        "TIMED_OUT": "A step's deadline passed; its onTimeout rule was applied.",
        "ESCALATED": "An overdue step went to the user or role named for escalation.",
        "REASSIGNED": "A workflow manager gave the current step to other holders.",
        "STAGE_SKIPPED": "A stage whose condition was false was passed over without decisions.",
    },
)
choices_enum(
    ApprovalType,
    name="ApprovalType",
    description="Who approves: a user or a role's members.",
    values={"USER": "One named user approves.", "ROLE": "The members of a role approve."},
)
choices_enum(
    RoleSelectionStrategy,
    name="RoleSelectionStrategy",
    description="How the members of a role share a step.",
    values={
        "ANYONE": "The first member to decide completes the step for everyone.",
        "CONSENSUS": "Every member of the role must approve.",
        "ROUND_ROBIN": "One member, the one with the fewest assignments, holds the step.",
        "QUORUM": "quorumCount members must approve.",
        "MAJORITY": "More than half of the members must approve.",
        "PERCENTAGE": "percentageRequired percent of the members must approve.",
    },
)
choices_enum(
    ApprovalBehaviour,
    name="ApprovalBehaviour",
    description="What an approver does to complete a step.",
    values={
        "APPROVE": "A plain approval (form data only when the step names a form).",
        "SUBMIT": "The approver submits non-empty form data with the approval.",
        "CHECK_IN_VERIFY": "Two decisions: a check-in (checkInStage) and then a verify "
        "(verifyStage).",
        "MOVE": "The approver moves the workflow on without any form data.",
    },
)
choices_enum(
    WorkflowStatus,
    name="WorkflowStatus",
    description="Life cycle of a template: DRAFT (being built, cannot be attached), ACTIVE (can "
    "be attached) or ARCHIVED (retired: readable, its running copies go on, cannot be attached).",
    values={
        "DRAFT": "Being built; cannot be attached.",
        "ACTIVE": "Can be attached.",
        "ARCHIVED": "Retired: readable, its running copies go on, cannot be attached.",
    },
)
choices_enum(
    TimeoutAction,
    name="TimeoutAction",
    description="What happens to a step still open at its due time (process_deadlines).",
    values={
        "ESCALATE": "The named user or role becomes the step's approver (TIMED_OUT, ESCALATED).",
        "REJECT": "The workflow is rejected, as if an approver had (event TIMED_OUT).",
        "APPROVE": "The step is approved and the workflow moves on (event TIMED_OUT).",
        "NOTIFY": "The approvers are told it is overdue; the step stays open (event TIMED_OUT).",
    },
)
# The transition policy's actions: a new action appears here by itself.
choices_enum(
    Action,
    name="AvailableAction",
    description="A decision the viewer may take now.",
    values={
        "START": "Start an attachment that was attached with autoStart false (startWorkflow).",
        "APPROVE": "Approve the viewer's share of the current step (approveStage).",
        "CHECK_IN": "Check in on a check-in-then-verify step (checkInStage).",
        "VERIFY": "Verify after checking in (verifyStage).",
        "REJECT": "Reject the workflow, ending it as REJECTED (rejectStage).",
        "DELEGATE": "Hand the viewer's share of the step to a colleague (delegateStage).",
        "REQUEST_RESUBMISSION": "Send the workflow back to an earlier stage (requestResubmission).",
        "CANCEL": "Stop the workflow before it finishes (cancelWorkflow).",
        "REASSIGN": "Give the current step to other holders, as a workflow manager.",
    },
)
# The names the type modules annotate with (each is the engine's class itself).
AttachmentStatusEnum = AttachmentStatus
EventTypeEnum = EventType
ApprovalTypeEnum = ApprovalType
StrategyEnum = RoleSelectionStrategy
BehaviourEnum = ApprovalBehaviour
WorkflowStatusEnum = WorkflowStatus
AvailableAction = Action
TimeoutActionEnum = TimeoutAction
