"""The declared transition policy of an attachment: who may do what, in which status.

Each action (start, approve, check in, verify, reject, delegate, request resubmission,
cancel, reassign) is declared once, as viewflow declares ``@flow.transition(source=..., target=...,
permission=...)``: the statuses it leaves from, the statuses it may lead to and a guard over
the facts about the actor. The services enforce it (``refusal`` and ``move``), and every
reader (the API's ``availableActions``, the example UIs) asks ``available_actions``: a rule
written a second time is a rule that drifts.

The facts (``Actor``) are gathered by the caller, so this module runs no query and imports no
model: the services build them under the attachment lock, the API from its DataLoaders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models

from backend.workflows.constants import LIVE_STATUSES, ApprovalBehaviour, AttachmentStatus
from backend.workflows.engine_settings import engine_setting
from backend.workflows.exceptions import (
    InvalidStateError,
    NotAnApproverError,
    WorkflowError,
    WorkflowPermissionDenied,
)


class Action(models.TextChoices):
    """A decision a user takes on an attachment."""

    START = "start", "Start"
    APPROVE = "approve", "Approve"
    CHECK_IN = "check_in", "Check in"
    VERIFY = "verify", "Verify"
    REJECT = "reject", "Reject"
    DELEGATE = "delegate", "Delegate"
    REQUEST_RESUBMISSION = "request_resubmission", "Request resubmission"
    CANCEL = "cancel", "Cancel"
    REASSIGN = "reassign", "Reassign"


@dataclass(frozen=True)
class StepShare:
    """The actor's share of the current step (one current approval row)."""

    behaviour: str
    is_checked_in: bool
    # False when the row belongs to another stage than the current one (the engine fails
    # closed: nothing is decided on such a row).
    is_on_current_stage: bool = True


@dataclass(frozen=True)
class Actor:
    """What the policy needs to know about one user facing one attachment."""

    is_superuser: bool = False
    # The company account (the user the attachment's company is) acting for itself.
    is_company_account: bool = False
    is_starter: bool = False
    # Holders of workflows.change_workflowattachment may cancel any workflow of the company
    # and reassign its current step.
    may_change_attachments: bool = False
    # DJANGO_WORKFLOW_ENGINE['PERMISSIONS']: has the permission, or it is not required.
    may_start: bool = True
    may_approve: bool = True
    # The actor's share of the current step, when they hold one.
    share: StepShare | None = None


def self_approval_allowed() -> bool:
    """Tell whether the user who started an attachment may also approve it."""
    return bool(engine_setting("ALLOW_SELF_APPROVAL"))


def _is_current_approver(actor: Actor) -> bool:
    return (
        actor.share is not None
        and actor.share.is_on_current_stage
        and (not actor.is_starter or self_approval_allowed())
    )


def _behaves(actor: Actor, *, checked_in: bool | None) -> bool:
    share = actor.share
    return (
        share is not None
        and share.behaviour == ApprovalBehaviour.CHECK_IN_VERIFY
        and (checked_in is None or share.is_checked_in == checked_in)
    )


@dataclass(frozen=True)
class Transition:
    """One declared action: from which statuses, to which statuses, for whom."""

    action: Action
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    # Django permission gate from the engine settings, checked before the guard.
    permission: str | None
    guard: Callable[[Actor], bool]
    # Raised when the guard says no (the permission gate has its own error).
    refusal: Callable[[], WorkflowError]


def _not_an_approver() -> WorkflowError:
    return NotAnApproverError("You are not an approver of the current stage.")


def _not_a_canceller() -> WorkflowError:
    return WorkflowPermissionDenied(
        "Only the user who started the workflow, the company or an administrator may cancel it."
    )


def _not_a_manager() -> WorkflowError:
    return WorkflowPermissionDenied(
        "Only the company, an administrator or a user with "
        "workflows.change_workflowattachment may reassign a step."
    )


def is_workflow_manager(actor: Actor) -> bool:
    """Tell whether ``actor`` manages the company's running workflows (reassigns their steps).

    The company account, a superuser, or a holder of ``workflows.change_workflowattachment``.
    """
    return actor.is_superuser or actor.is_company_account or actor.may_change_attachments


def _not_a_check_in_step() -> WorkflowError:
    return InvalidStateError("The current step is not a check-in / verify step.")


def _already_checked_in() -> WorkflowError:
    return InvalidStateError("You have already checked in on this step; verify it next.")


def _not_checked_in() -> WorkflowError:
    return InvalidStateError("Check in on this step before verifying it.")


IN_PROGRESS = (AttachmentStatus.IN_PROGRESS,)

TRANSITIONS: dict[str, Transition] = {
    transition.action: transition
    for transition in (
        Transition(
            Action.START,
            sources=(AttachmentStatus.NOT_STARTED,),
            targets=IN_PROGRESS,
            permission="start",
            guard=lambda actor: True,
            refusal=_not_an_approver,
        ),
        Transition(
            Action.APPROVE,
            sources=IN_PROGRESS,
            # A step's last approval of the last stage completes the workflow.
            targets=(AttachmentStatus.IN_PROGRESS, AttachmentStatus.COMPLETED),
            permission="approve",
            guard=_is_current_approver,
            refusal=_not_an_approver,
        ),
        Transition(
            Action.CHECK_IN,
            sources=IN_PROGRESS,
            targets=IN_PROGRESS,
            permission="approve",
            guard=lambda actor: _is_current_approver(actor) and _behaves(actor, checked_in=False),
            refusal=_not_an_approver,
        ),
        Transition(
            Action.VERIFY,
            sources=IN_PROGRESS,
            targets=(AttachmentStatus.IN_PROGRESS, AttachmentStatus.COMPLETED),
            permission="approve",
            guard=lambda actor: _is_current_approver(actor) and _behaves(actor, checked_in=True),
            refusal=_not_an_approver,
        ),
        Transition(
            Action.REJECT,
            sources=IN_PROGRESS,
            targets=(AttachmentStatus.REJECTED,),
            permission="approve",
            guard=_is_current_approver,
            refusal=_not_an_approver,
        ),
        Transition(
            Action.DELEGATE,
            sources=IN_PROGRESS,
            targets=IN_PROGRESS,
            permission="approve",
            guard=_is_current_approver,
            refusal=_not_an_approver,
        ),
        Transition(
            Action.REQUEST_RESUBMISSION,
            sources=IN_PROGRESS,
            targets=IN_PROGRESS,
            permission="approve",
            guard=_is_current_approver,
            refusal=_not_an_approver,
        ),
        Transition(
            Action.CANCEL,
            sources=LIVE_STATUSES,
            targets=(AttachmentStatus.CANCELLED,),
            permission=None,
            guard=lambda actor: (
                actor.is_superuser
                or actor.is_starter
                or actor.is_company_account
                or actor.may_change_attachments
            ),
            refusal=_not_a_canceller,
        ),
        Transition(
            Action.REASSIGN,
            sources=IN_PROGRESS,
            targets=IN_PROGRESS,
            permission=None,
            guard=is_workflow_manager,
            refusal=_not_a_manager,
        ),
    )
}


def permission_refusal(action: str, actor: Actor) -> WorkflowError | None:
    """Return the settings' permission error for ``action``, or None."""
    transition = TRANSITIONS[action]
    if transition.permission == "start" and not actor.may_start:
        return WorkflowPermissionDenied("You need the workflows.start_workflow permission.")
    if transition.permission == "approve" and not actor.may_approve:
        return WorkflowPermissionDenied("You need the workflows.approve_workflow permission.")
    return None


def state_refusal(action: str, status: str, status_label: str) -> WorkflowError | None:
    """Return why ``action`` cannot leave ``status`` at all, or None when it can."""
    if status in TRANSITIONS[action].sources:
        return None
    return InvalidStateError(
        f"The workflow is {status_label.lower()}; this action is not possible now."
    )


def refusal(
    action: str, status: str, actor: Actor, *, status_label: str = ""
) -> WorkflowError | None:
    """Return the error refusing ``action`` to ``actor`` in ``status``, or None when allowed.

    The order is the services' order: the status, the settings' permission, then the guard.
    A check-in / verify mismatch on a step the actor does hold is an INVALID_STATE.
    """
    transition = TRANSITIONS[action]
    error = state_refusal(action, status, status_label or status)
    if error is not None:
        return error
    error = permission_refusal(action, actor)
    if error is not None:
        return error
    if transition.guard(actor):
        return None
    if action in (Action.CHECK_IN, Action.VERIFY) and _is_current_approver(actor):
        if not _behaves(actor, checked_in=None):
            return _not_a_check_in_step()
        return _already_checked_in() if action == Action.CHECK_IN else _not_checked_in()
    return transition.refusal()


def available_actions(status: str, actor: Actor) -> list[Action]:
    """Return the actions ``actor`` may take now, in declaration order."""
    return [
        transition.action
        for transition in TRANSITIONS.values()
        if refusal(transition.action, status, actor) is None
    ]


def open_actions(status: str) -> list[Action]:
    """Return the actions an attachment in ``status`` accepts from someone (whoever may take them).

    What a realtime snapshot carries: it is shared by every subscriber, so it cannot say who;
    a client that needs the viewer's own actions reads ``availableActions``.
    """
    return [
        transition.action for transition in TRANSITIONS.values() if status in transition.sources
    ]


def move(attachment: Any, action: str, target: str) -> None:
    """Set the attachment's status to ``target`` as ``action`` declares it (the only writer)."""
    transition = TRANSITIONS[action]
    if attachment.status not in transition.sources or target not in transition.targets:
        raise InvalidStateError(
            f"'{action}' cannot move a {attachment.status} workflow to {target}."
        )
    attachment.status = target
