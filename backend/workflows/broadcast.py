"""Publish committed workflow events to the channel layer for live subscribers.

Registered as an event listener, so it runs only after the transition commits. Each event
becomes one message with everything a subscriber needs (the audit row plus a snapshot of
the attachment), sent to three kinds of group:

- ``wf-attachment.<id>``: subscribers of one attachment;
- ``wf-workflow.<id>``: subscribers of a template (its running copies publish here too);
- ``wf-inbox.<user id>``: users whose pending approvals changed.

A failing or slow channel layer never affects the decision, which has already committed:
the failure is logged and counted, and a client that reconnects with ``since:`` replays
what it missed from the audit trail.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

from backend.precompiled import PrecompiledQuery
from backend.workflows import transition_state
from backend.workflows.models import WorkflowAttachment, WorkflowEvent
from backend.workflows.selectors import (
    attachment_snapshot,
    ordered_stages,
    pipeline_snapshot,
    stage_snapshot,
)

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "workflow.event"
INBOX_MESSAGE_TYPE = "workflow.inbox"
# Budget for publishing one committed batch (every group_send of it together). The decision
# waits for the publish, so a hung Redis delays its answer by at most this much.
PUBLISH_TIMEOUT_SECONDS = 2.0


class PublishStatistics:
    """Counts of published messages and failures (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.published = 0
        self.failed = 0

    def record(self, *, ok: bool) -> None:
        with self._lock:
            if ok:
                self.published += 1
            else:
                self.failed += 1


statistics = PublishStatistics()


def attachment_group(attachment_id: int) -> str:
    return f"wf-attachment.{attachment_id}"


def workflow_group(workflow_id: int) -> str:
    return f"wf-workflow.{workflow_id}"


def inbox_group(user_id: int) -> str:
    return f"wf-inbox.{user_id}"


def _user(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.get_full_name() or user.first_name or user.username,
        "email": user.email or "",
    }


def serialize_event(
    event: WorkflowEvent,
    *,
    snapshot: dict[str, Any],
    previous_id: int | None,
    workflow_ids: list[int],
) -> dict[str, Any]:
    """Turn an audit row into the message subscribers receive."""
    return {
        "id": event.pk,
        "event_type": event.event_type,
        "attachment_id": event.attachment_id,
        "company_id": event.company_id,
        "workflow_ids": workflow_ids,
        "previous_id": previous_id,
        "actor": _user(event.actor),
        "delegate": _user(event.delegate),
        "from_stage": stage_snapshot(event.from_stage),
        "to_stage": stage_snapshot(event.to_stage),
        "from_pipeline": pipeline_snapshot(event.from_pipeline),
        "to_pipeline": pipeline_snapshot(event.to_pipeline),
        "reason": event.reason,
        "form_data": event.form_data,
        "details": event.details or {},
        "occurred_at": event.occurred_at.isoformat(),
        "attachment": snapshot,
    }


def _previous_event_query(attachment_id: int, before_id: int) -> Any:
    return (
        WorkflowEvent.objects.filter(attachment_id=attachment_id, pk__lt=before_id)
        .order_by("-pk")
        .values("pk")[:1]
    )


# Read after every decision on an attachment that has earlier events: compiled once.
_previous_event_statement = PrecompiledQuery(_previous_event_query)


def _messages(events: Sequence[WorkflowEvent]) -> list[tuple[str, dict[str, Any]]]:
    """Build ``(group, message)`` pairs for a batch of events (a few queries per batch)."""
    sends: list[tuple[str, dict[str, Any]]] = []
    by_attachment: dict[int, list[WorkflowEvent]] = {}
    for event in events:
        by_attachment.setdefault(event.attachment_id, []).append(event)
    for attachment_id, batch in by_attachment.items():
        # The transition that saved the batch hands over the rows it loaded (see
        # transition_state); without it, everything is read again.
        state = transition_state.for_events(batch)
        if state is not None:
            attachment: WorkflowAttachment | None = batch[0].attachment
        else:
            attachment = (
                WorkflowAttachment.objects.select_related("workflow")
                .filter(pk=attachment_id)
                .first()
            )
        if attachment is None:
            continue
        if state is not None and state.stages is not None:
            stages = state.stages
        else:
            stages = ordered_stages(attachment.workflow_id)
        snapshot = attachment_snapshot(attachment, stages)
        workflow_ids = [attachment.workflow_id]
        if attachment.workflow.cloned_from_id:
            workflow_ids.append(attachment.workflow.cloned_from_id)
        if state is not None and state.is_new:
            previous = None  # created by this transition: it has no earlier event
        else:
            found = _previous_event_statement.fetch(
                attachment_id=attachment_id, before_id=batch[0].pk
            )
            previous = found[0]["pk"] if found else None
        for event in batch:
            message = {
                "type": MESSAGE_TYPE,
                "event": serialize_event(
                    event, snapshot=snapshot, previous_id=previous, workflow_ids=workflow_ids
                ),
            }
            previous = event.pk
            # Each copy names its group: a process listening to several groups routes by it.
            for group in (attachment_group(attachment_id), *map(workflow_group, workflow_ids)):
                sends.append((group, {**message, "group": group}))
        sends.extend(_inbox_messages(attachment, batch, state))
    return sends


def _inbox_messages(
    attachment: WorkflowAttachment,
    batch: list[WorkflowEvent],
    state: transition_state.TransitionState | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """Tell users whose pending approvals gained or lost this attachment."""
    # A decision on a step records who held it before: only they can lose the item. The actor
    # counts only without that record: a manager who reassigns or cancels never held the step,
    # so telling them it "left" their inbox would be wrong.
    recorded = [
        event.details["approvers_before"]
        for event in batch
        if event.details and "approvers_before" in event.details
    ]
    before: set[int] = {user_id for holders in recorded for user_id in holders}
    if not recorded:
        before.update(event.actor_id for event in batch if event.actor_id)
    after = (
        {
            step.assignee_id
            for step in transition_state.open_steps_after(attachment, state)
            if step.assignee_id is not None
        }
        if attachment.status == "in_progress"
        else set()
    )
    last = batch[-1]
    sends = []
    for user_id in sorted(before | after):
        change = (
            "entered"
            if user_id in after and user_id not in before
            else ("left" if user_id in before and user_id not in after else None)
        )
        if change is None:
            continue
        sends.append(
            (
                inbox_group(user_id),
                {
                    "type": INBOX_MESSAGE_TYPE,
                    "change": change,
                    "user_id": user_id,
                    "attachment_id": attachment.pk,
                    "company_id": attachment.company_id,
                    "event_id": last.pk,
                    "event_type": last.event_type,
                },
            )
        )
    return sends


async def _send_all(layer: Any, sends: list[tuple[str, dict[str, Any]]]) -> None:
    async def send_in_order() -> None:
        for group, message in sends:
            await layer.group_send(group, message)

    # One deadline for the whole batch, not one per message: a slow layer cannot multiply it.
    await asyncio.wait_for(send_in_order(), PUBLISH_TIMEOUT_SECONDS)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """Return the event loop this thread works for (a ``sync_to_async`` worker's), if any.

    The place ``async_to_sync`` looks too: a sync worker of an ASGI server runs what it
    hands back in the server's loop, where the layer's queues and connections live.
    """
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop: asyncio.AbstractEventLoop | None = getattr(local, "main_event_loop", None)
    return loop


def _run_to_completion(sends: list[tuple[str, dict[str, Any]]], layer: Any) -> None:
    """Run ``_send_all`` from synchronous code.

    In a sync worker of an ASGI server (or next to a running loop): ``async_to_sync``, as
    ever. Elsewhere (a management command, a WSGI worker, a test) ``async_to_sync`` starts a
    thread for a new event loop on every call (about 0.4 ms); a new event loop run in this
    thread, cancelled and closed afterwards as ``asyncio.run`` does, costs about 0.05 ms. The
    layer sees the same thing either way: a new loop for this batch, closed once it is sent.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running_here = False
    else:
        running_here = True
    server = _server_loop()
    if running_here or (server is not None and server.is_running()):
        async_to_sync(_send_all)(layer, sends)
        return
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_send_all(layer, sends))
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def publish_events(events: Sequence[WorkflowEvent]) -> None:
    """Send committed events to their groups; log and count failures, never raise."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    try:
        sends = _messages(events)
        _run_to_completion(sends, layer)
    except Exception:  # a broken channel layer must not break the committed decision
        statistics.record(ok=False)
        logger.exception("Publishing %d workflow event(s) failed", len(events))
        return
    statistics.record(ok=True)
