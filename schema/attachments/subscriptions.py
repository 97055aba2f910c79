"""Subscription root: live workflow events over graphql-transport-ws.

Each subscription joins its channel-layer group (through the process's shared listener,
``schema.execution.fanout``) *before* reading the audit trail, so with ``since:`` it replays what the
client missed and continues live with no gap and no duplicate. Without ``since:`` it starts
from the newest event at the moment it subscribes (read before joining), so an event
committed while it joins is not lost either. Events carry the id of the previous event of
their attachment; when a message arrives before an earlier one (two processes publishing),
the missing events are read from the audit trail first, so each attachment's events are
delivered in commit order. A pushed event is rendered once per document and process and
sent to the other subscribers as the same frame (``schema.execution.event_sharing``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from enum import Enum
from typing import Annotated, Any

import strawberry
from asgiref.sync import sync_to_async
from django.db.models import Max, Q
from strawberry.types import Info

from backend.workflows import selectors
from backend.workflows.broadcast import (
    INBOX_MESSAGE_TYPE,
    MESSAGE_TYPE,
    attachment_group,
    inbox_group,
    workflow_group,
)
from backend.workflows.constants import EventType
from backend.workflows.exceptions import (
    NotFoundError,
    UnauthenticatedError,
    WorkflowValidationError,
)
from backend.workflows.models import WorkflowEvent
from schema.attachments.types import WorkflowEventType
from schema.context import RequestContext, context_of
from schema.dataloaders import Loaders
from schema.enums import EventTypeEnum
from schema.errors import query_error
from schema.execution import fanout
from schema.execution.event_sharing import FastPath, share
from schema.global_ids import global_id
from schema.tenancy import queried_id, viewer_company_id

REPLAY_LIMIT = 1000
PUSHED_EVENTS_CACHED = 256

_pushed_events: OrderedDict[tuple[int, int], WorkflowEventType] = OrderedDict()


def _viewer(info: Info) -> RequestContext:
    context = context_of(info)
    try:
        context.viewer("Sign in to subscribe.")
    except UnauthenticatedError as error:
        raise query_error(error) from None
    return context


def _since(value: strawberry.ID | None) -> int | None:
    if value is None:
        return None
    try:
        return int(queried_id(value, "WorkflowEvent", field="since"))
    except (TypeError, ValueError):
        raise query_error(
            WorkflowValidationError("since must be an event id.", field="since")
        ) from None


def _load_events(scope: Q, after: int, up_to: int | None = None) -> list[WorkflowEvent]:
    queryset = WorkflowEvent.objects.filter(scope, pk__gt=after)
    if up_to is not None:
        queryset = queryset.filter(pk__lte=up_to)
    return list(
        queryset.select_related(
            "actor", "delegate", "from_stage", "to_stage", "from_pipeline", "to_pipeline"
        ).order_by("pk")[:REPLAY_LIMIT]
    )


def _pushed_event(data: dict[str, Any]) -> WorkflowEventType:
    """The event of a channel-layer message, built once per process for all its subscribers.

    It carries its attachment snapshot, so it renders without the database or the viewer:
    ``share`` lets the execution context execute it once per document (schema/execution.py).
    Nothing may mutate it.
    """
    key = (data["id"], data["company_id"])
    event = _pushed_events.get(key)
    if event is None:
        event = WorkflowEventType.from_payload(data)
        # A failed action's details depend on the viewer (managers see the error): every
        # subscriber renders it for itself.
        if data["event_type"] != EventType.ACTION_FAILED:
            share(event, ("workflow-event", *key))
        _pushed_events[key] = event
        while len(_pushed_events) > PUSHED_EVENTS_CACHED:
            _pushed_events.popitem(last=False)
    return event


def _watermark(scope: Q) -> int:
    return WorkflowEvent.objects.filter(scope).aggregate(m=Max("pk"))["m"] or 0


async def _stream(
    info: Info,
    *,
    group: str,
    scope: Q,
    since: int | None,
    company_id: int,
    accept: Callable[[dict[str, Any]], bool],
) -> AsyncGenerator[WorkflowEventType, None]:
    context = _viewer(info)
    fast_path = FastPath.of(info)
    if since is None:
        # "From now on": the newest event *before* joining the group, so an event committed
        # while joining is replayed below rather than taken for one the client already has.
        since = await sync_to_async(_watermark)(scope)
    async with fanout.listen(group) as next_message:
        last_seen: dict[int, int] = {}
        for event in await sync_to_async(_load_events)(scope, since):
            last_seen[event.attachment_id] = event.pk
            context.loaders = Loaders()
            yield WorkflowEventType.from_model(event)

        def new_event(message: dict[str, Any]) -> dict[str, Any] | None:
            """The event of ``message`` if this subscription is to deliver it, else None."""
            if message.get("type") != MESSAGE_TYPE:
                return None
            data = message["event"]
            if data["company_id"] != company_id or not accept(data):
                return None
            if data["id"] <= last_seen.get(data["attachment_id"], since):
                return None  # already delivered (replayed, or caught up earlier)
            return data

        if fast_path is not None and fast_path.direct:
            direct = fast_path

            def offer(message: dict[str, Any]) -> bool | None:
                # Runs in the process's listener task while this one waits for a message:
                # sends a shared event that follows what was delivered; the rest is queued.
                data = new_event(message)
                if data is None:
                    return True
                previous = data.get("previous_id")
                if previous is not None and previous > last_seen.get(data["attachment_id"], since):
                    return False  # events are missing before it: read them here first
                sent = direct.write_rendered(_pushed_event(data))
                if sent:
                    last_seen[data["attachment_id"]] = data["id"]
                return sent

            async def prepare(message: dict[str, Any]) -> None:
                data = new_event(message)
                if data is not None:
                    await direct.render(_pushed_event(data))

            next_message.sink = fanout.Sink(offer, prepare)
        while True:
            message = await next_message()
            data = new_event(message)
            if data is None:
                continue
            attachment_id = data["attachment_id"]
            seen = last_seen.get(attachment_id, since)
            previous = data.get("previous_id")
            if previous is not None and previous > seen:
                missed = await sync_to_async(_load_events)(
                    Q(attachment_id=attachment_id), seen, data["id"] - 1
                )
                for event in missed:
                    last_seen[attachment_id] = event.pk
                    context.loaders = Loaders()
                    yield WorkflowEventType.from_model(event)
            last_seen[attachment_id] = data["id"]
            pushed = _pushed_event(data)
            # Rendered already for another subscriber: send the same frame, skip the pipeline.
            if fast_path is None or not await fast_path.send(pushed):
                yield pushed


@strawberry.enum(
    name="InboxChangeKind", description="Whether an attachment entered or left an inbox."
)
class InboxChangeKind(Enum):
    ENTERED = strawberry.enum_value(
        "entered", description="The viewer now holds a share of the attachment's current step."
    )
    LEFT = strawberry.enum_value(
        "left", description="The viewer no longer holds a share: decided, moved on or ended."
    )


@strawberry.type(
    name="InboxChange", description="An item entered or left the viewer's pending approvals."
)
class InboxChangeType:
    change: InboxChangeKind = strawberry.field(description="Entered or left.")
    attachment_id: strawberry.ID = strawberry.field(description="The attachment concerned.")
    event_id: strawberry.ID = strawberry.field(description="The event that caused the change.")
    event_type: EventTypeEnum = strawberry.field(description="The type of that event.")


@strawberry.type(
    description="Live workflow events over graphql-transport-ws, scoped to the viewer's company."
)
class Subscription:
    @strawberry.subscription(
        description="Events of one attachment; with `since` (an event id), first replays the missed ones."
    )
    async def attachment_events(
        self,
        info: Info,
        attachment_id: Annotated[strawberry.ID, strawberry.argument(description="Attachment id.")],
        since: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Replay the events after this event (its id or databaseId) first."
            ),
        ] = None,
    ) -> AsyncGenerator[WorkflowEventType, None]:
        context = _viewer(info)
        attachment = await sync_to_async(selectors.company_attachment)(
            context.company_id,
            queried_id(attachment_id, "WorkflowAttachment", field="attachmentId"),
        )
        if attachment is None:
            raise query_error(NotFoundError("Workflow attachment not found.", field="attachmentId"))
        async for event in _stream(
            info,
            group=attachment_group(attachment.pk),
            scope=Q(attachment_id=attachment.pk),
            since=_since(since),
            company_id=viewer_company_id(info),
            accept=lambda data: data["attachment_id"] == attachment.pk,
        ):
            yield event

    @strawberry.subscription(
        description="Events of every attachment running a workflow template (or one of its copies)."
    )
    async def workflow_events(
        self,
        info: Info,
        workflow_id: Annotated[
            strawberry.ID, strawberry.argument(description="Workflow template id.")
        ],
        since: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Replay the events after this event (its id or databaseId) first."
            ),
        ] = None,
    ) -> AsyncGenerator[WorkflowEventType, None]:
        context = _viewer(info)
        workflow = await sync_to_async(selectors.company_workflow)(
            context.company_id, queried_id(workflow_id, "Workflow", field="workflowId")
        )
        if workflow is None:
            raise query_error(NotFoundError("Workflow not found.", field="workflowId"))
        scope = Q(attachment__workflow_id=workflow.pk) | Q(
            attachment__workflow__cloned_from_id=workflow.pk
        )
        scope &= Q(company_id=context.company_id)
        async for event in _stream(
            info,
            group=workflow_group(workflow.pk),
            scope=scope,
            since=_since(since),
            company_id=viewer_company_id(info),
            accept=lambda data: workflow.pk in data["workflow_ids"],
        ):
            yield event

    @strawberry.subscription(description="An item entered or left the viewer's pending approvals.")
    async def my_inbox_changed(self, info: Info) -> AsyncGenerator[InboxChangeType, None]:
        context = _viewer(info)
        async with context.ws.listen_to_channel(
            INBOX_MESSAGE_TYPE, groups=[inbox_group(context.user.pk)]
        ) as messages:
            async for message in messages:
                if (
                    message["company_id"] != context.company_id
                    or message["user_id"] != context.user.pk
                ):
                    continue
                yield InboxChangeType(
                    change=InboxChangeKind(message["change"]),
                    attachment_id=global_id("WorkflowAttachment", message["attachment_id"]),
                    event_id=global_id("WorkflowEvent", message["event_id"]),
                    event_type=message["event_type"],
                )
