"""GraphQL enums: strawberry's view of the engine's ``TextChoices``, one definition each.

A GraphQL value is the member's name (``IN_PROGRESS``); resolvers may return the member or
its stored string (``"in_progress"``) alike. Each value is described by the choice's label
unless a longer description is given here.
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
)
choices_enum(
    ApprovalBehaviour,
    name="ApprovalBehaviour",
    description="What an approver does to complete a step.",
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
choices_enum(Action, name="AvailableAction", description="A decision the viewer may take now.")
# The names the type modules annotate with (each is the engine's class itself).
AttachmentStatusEnum = AttachmentStatus
EventTypeEnum = EventType
ApprovalTypeEnum = ApprovalType
StrategyEnum = RoleSelectionStrategy
BehaviourEnum = ApprovalBehaviour
WorkflowStatusEnum = WorkflowStatus
AvailableAction = Action
TimeoutActionEnum = TimeoutAction
