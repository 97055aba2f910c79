"""What a transition already loaded, handed to its after-commit listeners.

A decision reads the attachment, its running copy, the ordered stages and the business
object under its lock; the listeners that run once it commits (the broadcast, the stored
actions, the e-mails) need the same rows. Instead of reading them again, the service
records them here, on the attachment instance it saved, together with the events it
saved; a listener reuses them only for those very events (``for_events``). Anything else
(an event saved by another code path, a later transition on the same instance) finds no
state and reads from the database as before.

Nothing here is shared between requests or threads: the state lives on one model instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.workflows.approvals import StepInfo
    from backend.workflows.models import Stage, WorkflowAttachment, WorkflowEvent

_ATTRIBUTE = "_transition_state"


@dataclass
class TransitionState:
    """Rows one transition loaded, valid for the events it saved as the attachment committed."""

    events: list[WorkflowEvent]
    # The running copy's stages in running order (pipelines loaded), when the transition read them.
    stages: list[Stage] | None = None
    # True when the attachment was created by this transition: no earlier event can exist.
    is_new: bool = False
    # The open steps after the commit, once a listener has read them (shared with the others).
    open_steps: list[StepInfo] | None = field(default=None)
    # Whether the running copy has active stored actions, when read with the locked row
    # (``actions.action_rows_exist`` as the ``has_action_rows`` annotation); None: unknown.
    has_action_rows: bool | None = None


def remember(
    attachment: WorkflowAttachment,
    events: list[WorkflowEvent],
    *,
    stages: list[Stage] | None = None,
    target: Any = None,
    is_new: bool = False,
) -> None:
    """Record what the transition saving ``events`` for ``attachment`` has loaded.

    Call it right before ``save_events(events)``, once the attachment holds the state it
    commits. ``target`` (the business object, when the transition had it) is cached on the
    attachment's generic relation, so ``attachment.target`` costs no query afterwards.
    """
    previous = state_of(attachment)
    if stages is None and previous is not None:
        stages = previous.stages  # read earlier in the same transition (same instance)
    has_action_rows = getattr(attachment, "has_action_rows", None)
    setattr(
        attachment,
        _ATTRIBUTE,
        TransitionState(
            events=events,
            stages=stages,
            is_new=is_new,
            has_action_rows=bool(has_action_rows) if has_action_rows is not None else None,
        ),
    )
    if target is not None and target.pk is not None:
        relation = attachment._meta.get_field("target")
        relation.set_cached_value(attachment, target)  # type: ignore[union-attr]


def remember_stages(attachment: WorkflowAttachment, stages: list[Stage]) -> None:
    """Keep the ordered stages a transition read, for the state ``remember`` records next."""
    state = state_of(attachment)
    if state is None:
        setattr(attachment, _ATTRIBUTE, TransitionState(events=[], stages=stages))
    else:
        state.stages = stages


def state_of(attachment: WorkflowAttachment) -> TransitionState | None:
    """Return the state recorded on ``attachment``, if any."""
    state = getattr(attachment, _ATTRIBUTE, None)
    return state if isinstance(state, TransitionState) else None


def for_events(events: Sequence[WorkflowEvent]) -> TransitionState | None:
    """Return the state of the transition that saved ``events`` (all of one attachment), or None.

    The state applies only when the events are the very instances that transition saved
    and their attachment instance is the one it saved them with.
    """
    if not events:
        return None
    first = events[0]
    if not type(first).attachment.is_cached(first):  # type: ignore[attr-defined]
        return None
    state = state_of(first.attachment)
    if state is None or not all(any(e is mine for mine in state.events) for e in events):
        return None
    return state


def open_steps_after(
    attachment: WorkflowAttachment, state: TransitionState | None
) -> list[StepInfo]:
    """Return the attachment's open steps after the commit, read once per transition."""
    from backend.workflows import approvals

    if state is not None and state.open_steps is not None:
        return state.open_steps
    steps = approvals.open_steps_for_objects(attachment.content_type_id, [attachment.object_id])
    if state is not None:
        state.open_steps = steps
    return steps
