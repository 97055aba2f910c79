"""Record audit events and hand them to listeners once the transaction commits.

Listeners (the GraphQL subscription publisher, stored actions, e-mail) are registered by
the composition root; the engine never imports them. They run after commit only, so they
never see, or act on, a transition that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction

from backend.workflows.models import WorkflowEvent

logger = logging.getLogger(__name__)

EventListener = Callable[[Sequence[WorkflowEvent]], None]
_listeners: list[EventListener] = []


def add_event_listener(listener: EventListener) -> None:
    """Call ``listener(events)`` after every committed transition (once per listener)."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_event_listener(listener: EventListener) -> None:
    """Stop calling ``listener``."""
    if listener in _listeners:
        _listeners.remove(listener)


def _take_snapshots(events: list[WorkflowEvent]) -> None:
    """Give each event the state of its attachment now, right after the change it records.

    The stages (for the progress) are the ones the transition read (``transition_state``);
    else one query per attachment of the batch, kept for the transition's listeners.
    """
    from backend.workflows import transition_state
    from backend.workflows.selectors import attachment_snapshot, ordered_stages

    snapshots: dict[int, dict[str, Any]] = {}
    for event in events:
        if event.snapshot is not None:
            continue
        attachment = event.attachment
        if attachment.pk not in snapshots:
            state = transition_state.state_of(attachment)
            if state is not None and state.stages is not None:
                stages = state.stages
            else:
                stages = ordered_stages(attachment.workflow_id)
                if state is not None:  # the listeners reuse them after the commit
                    state.stages = stages
            snapshots[attachment.pk] = attachment_snapshot(attachment, stages)
        event.snapshot = snapshots[attachment.pk]


def save_events(events: list[WorkflowEvent]) -> list[WorkflowEvent]:
    """Insert ``events`` in one query and schedule their publication after commit."""
    if not events:
        return events
    _take_snapshots(events)
    saved = WorkflowEvent.objects.bulk_create(events)
    transaction.on_commit(lambda: notify_listeners(saved))
    return saved


def notify_listeners(events: Sequence[WorkflowEvent]) -> None:
    """Give committed ``events`` to every listener; a failing listener never stops the others."""
    for listener in list(_listeners):
        try:
            listener(events)
        except Exception:  # a listener must not break the caller or other listeners
            logger.exception("Workflow event listener %r failed", listener)
