"""Running workflows: attachments, their targets, approvers, progress and audit events."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

import strawberry
import strawberry_django
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.workflows.constants import (
    AttachmentStatus,
    EventType,
)
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import WorkflowAttachment, WorkflowEvent
from backend.workflows.selectors import (
    attachment_snapshot,
    compute_next_stage,
    compute_progress,
    earliest_due_time,
    is_overdue,
)
from backend.workflows.services.running import available_actions
from schema.accounts.types import DATABASE_ID, RoleType, UserType
from schema.attachments.targets import TargetInterface, target_of
from schema.context import context_of
from schema.enums import (
    AttachmentStatusEnum,
    AvailableAction,
    BehaviourEnum,
    EventTypeEnum,
)
from schema.errors import query_error
from schema.execution.pagination import check_page_arguments, decode_cursor, encode_cursor
from schema.global_ids import model_node_id
from schema.resolution import in_memory, loaded_or_in_thread
from schema.workflows.types import PipelineType, StageType, WorkflowType


@strawberry.type(name="Progress", description="Stages fully approved out of all stages.")
class ProgressType:
    percentage: float = strawberry.field(description="0 at start, 100 only once completed.")
    completed_stages: int = strawberry.field(description="Stages fully approved.")
    total_stages: int = strawberry.field(description="All stages of the running workflow.")


@strawberry.type(name="CurrentApprover", description="Someone who can act on the current step.")
class CurrentApproverType:
    user: UserType = strawberry.field(description="The approver.")
    role: RoleType | None = strawberry.field(description="The role they act for, if any.")
    is_delegated: bool = strawberry.field(description="True when the step was delegated to them.")
    is_checked_in: bool = strawberry.field(
        description="True after a check-in on a check-in/verify step."
    )
    behaviour: BehaviourEnum = strawberry.field(description="What they must do.")


@strawberry_django.type(
    WorkflowAttachment,
    name="WorkflowAttachment",
    description="A workflow running on one business object.",
)
class WorkflowAttachmentType(relay.Node):
    database_id: int = strawberry_django.field(field_name="id", description=DATABASE_ID)
    _id = model_node_id("WorkflowAttachment")
    workflow: WorkflowType = strawberry_django.field(
        description="The running copy of the workflow."
    )
    current_pipeline: PipelineType | None = strawberry_django.field(
        description="Pipeline of the current stage."
    )
    current_stage: StageType | None = strawberry_django.field(
        description="The stage waiting for approval."
    )
    started_at: datetime | None = strawberry_django.field(description="When it started.")
    completed_at: datetime | None = strawberry_django.field(
        description="When it finished (completed, rejected or cancelled)."
    )
    metadata: JSON = strawberry_django.field(description="Free metadata given at attach time.")
    created_at: datetime = strawberry_django.field(description="When it was attached.")

    @strawberry_django.field(description="Current status.", only=["status"])
    @in_memory
    def status(self, root: WorkflowAttachment) -> AttachmentStatusEnum:
        return AttachmentStatusEnum(root.status)

    @strawberry_django.field(description="Who started it.", select_related=["started_by"])
    @in_memory
    def started_by(self, root: WorkflowAttachment) -> UserType | None:
        return loaded_or_in_thread(
            root.started_by_id is None or WorkflowAttachment.started_by.is_cached(root),
            lambda: UserType.from_user(root.started_by),
        )

    @strawberry_django.field(description="Progress through the stages.")
    async def progress(self, root: WorkflowAttachment, info: Info) -> ProgressType:
        stages = await context_of(info).loaders.stages_by_workflow.load(root.workflow_id)
        progress = compute_progress(root, stages)
        return ProgressType(
            percentage=progress.percentage,
            completed_stages=progress.completed_stages,
            total_stages=progress.total_stages,
        )

    @strawberry_django.field(description="The stage after the current one; null once finished.")
    async def next_stage(self, root: WorkflowAttachment, info: Info) -> StageType | None:
        stages = await context_of(info).loaders.stages_by_workflow.load(root.workflow_id)
        return compute_next_stage(root, stages)  # type: ignore[return-value]

    @strawberry_django.field(
        description="The business object: its own type when the host application gives its "
        "model one (PurchaseRequest in the demo), else a BusinessObject."
    )
    async def target(self, root: WorkflowAttachment, info: Info) -> TargetInterface:
        obj, label = await context_of(info).loaders.target_by_attachment.load(
            (root.content_type_id, root.object_id)
        )
        return target_of(obj, label=label, object_id=root.object_id)

    @strawberry_django.field(description="Everyone who can act on the current step now.")
    async def current_approvers(
        self, root: WorkflowAttachment, info: Info
    ) -> list[CurrentApproverType]:
        if root.status != AttachmentStatus.IN_PROGRESS:
            return []
        context = context_of(info)
        steps = await context.loaders.current_steps_by_attachment.load(
            (root.content_type_id, root.object_id)
        )
        result = []
        for step in steps:
            if step.assignee is None:
                continue
            role = None
            if step.role_id is not None:
                role_object = await context.loaders.role_by_id.load(step.role_id)
                if role_object is not None:
                    role = RoleType.from_role(role_object)
            result.append(
                CurrentApproverType(
                    user=UserType.from_user(step.assignee),
                    role=role,
                    is_delegated=step.delegated_from is not None,
                    is_checked_in=step.is_checked_in,
                    behaviour=BehaviourEnum(step.behaviour),
                )
            )
        return result

    @strawberry_django.field(
        description=(
            "When the current step is due: the earliest due time of its open steps (an "
            "approval with `due_in`); null without a deadline or once finished."
        )
    )
    async def due_at(self, info: Info) -> datetime | None:
        return await _due_time(self, info)

    @strawberry_django.field(
        description="True while the current step is past its due time (`dueAt`)."
    )
    async def is_overdue(self, info: Info) -> bool:
        return is_overdue(await _due_time(self, info))

    @strawberry_django.field(
        description=(
            "What the viewer may do on this attachment now, read from the engine's declared "
            "transition policy: exactly the decisions the server would accept."
        )
    )
    async def available_actions(
        self, root: WorkflowAttachment, info: Info
    ) -> list[AvailableAction]:
        context = context_of(info)
        if not context.is_authenticated:
            return []
        loading = context.load_viewer_permissions()  # in the same hop as the open steps
        steps = (
            await context.loaders.current_steps_by_attachment.load(
                (root.content_type_id, root.object_id)
            )
            if root.status == AttachmentStatus.IN_PROGRESS
            else []
        )
        permissions = await loading
        actions = available_actions(
            attachment=root,
            user=context.user,
            steps=steps,
            permissions=permissions,
        )
        return [AvailableAction(action.value) for action in actions]

    @strawberry_django.field(
        description="The audit trail, oldest first: a Relay connection with keyset cursors "
        "(`first`/`after` forwards, `last`/`before` backwards; at most 100 a page)."
    )
    async def events(
        self,
        root: WorkflowAttachment,
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(
                description="Return the first n events after `after` (at most 100)."
            ),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(description="Return the events after this cursor."),
        ] = None,
        last: Annotated[
            int | None,
            strawberry.argument(
                description="Return the last n events before `before` (at most 100)."
            ),
        ] = None,
        before: Annotated[
            str | None,
            strawberry.argument(description="Return the events before this cursor."),
        ] = None,
    ) -> WorkflowEventConnection | None:
        try:
            check_page_arguments(
                before=before, after=after, first=first, last=last, max_results=MAX_EVENTS
            )
        except WorkflowValidationError as error:
            raise query_error(error) from None
        events = await context_of(info).loaders.events_by_attachment.load(root.pk)
        return WorkflowEventConnection.slice(
            events, first=first, after=after, last=last, before=before
        )


async def _due_time(attachment: Any, info: Info) -> datetime | None:
    """Return the earliest due time of an attachment's open steps (one batched load)."""
    if attachment.status != AttachmentStatus.IN_PROGRESS:
        return None
    steps = await context_of(info).loaders.current_steps_by_attachment.load(
        (attachment.content_type_id, attachment.object_id)
    )
    return earliest_due_time(steps)


@strawberry.type(
    name="AttachmentSnapshot",
    description=(
        "An attachment's state right after the change an event records. A value without an "
        "id: it never overwrites the attachment in a client's normalized cache, and every "
        "event keeps its own, whether it was pushed live, queried or replayed with `since`."
    ),
)
class AttachmentSnapshotType:
    status: AttachmentStatusEnum = strawberry.field(description="Status.")
    progress: ProgressType = strawberry.field(description="Progress through the stages.")
    current_stage_name: str | None = strawberry.field(
        description="English name of the current stage; null once finished."
    )
    current_stage_name_ar: str | None = strawberry.field(
        description="Arabic name of the current stage; null once finished."
    )
    current_pipeline_name: str | None = strawberry.field(
        description="English name of the current pipeline; null once finished."
    )
    open_actions: list[AvailableAction] = strawberry.field(
        description=(
            "The decisions the attachment accepts in this state, from whoever the transition "
            "policy allows (empty once it has finished). The same for every subscriber: the "
            "viewer's own choice is `WorkflowAttachment.availableActions`."
        )
    )

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> AttachmentSnapshotType:
        stage, pipeline = data.get("current_stage"), data.get("current_pipeline")
        progress = data["progress"]
        total, completed = progress["total_stages"], progress["completed_stages"]
        return cls(
            status=AttachmentStatusEnum(data["status"]),
            progress=ProgressType(
                percentage=round(100.0 * completed / total, 2) if total else 0.0,
                completed_stages=completed,
                total_stages=total,
            ),
            current_stage_name=stage["name_en"] if stage else None,
            current_stage_name_ar=stage["name_ar"] if stage else None,
            current_pipeline_name=pipeline["name_en"] if pipeline else None,
            # Messages published before the field existed carry none.
            open_actions=[AvailableAction(value) for value in data.get("open_actions", [])],
        )


def _user_from_payload(data: dict[str, Any] | None) -> UserType | None:
    if not data:
        return None
    return UserType(
        database_id=int(data["id"]),
        username=data["username"],
        display_name=data["display_name"],
        email=data["email"],
    )


def _key(data: dict[str, Any] | None) -> int | None:
    return int(data["id"]) if data else None


# What a failed action's audit row tells only workflow managers: the exception text may
# hold internal details (a host name, a query), the paths name server code.
MANAGER_ONLY_FAILURE_DETAILS = ("error", "function_path")


def _action_failure_details(event: WorkflowEventType, info: Info) -> JSON:
    from backend.workflows.selectors import can_manage_workflows

    context = context_of(info)
    if context.is_authenticated and can_manage_workflows(context.user, context.company_id):
        return JSON(event.raw_details)
    shown = {
        key: value
        for key, value in event.raw_details.items()
        if key not in MANAGER_ONLY_FAILURE_DETAILS
    }
    if "skipped" in shown:
        shown["skipped"] = [{"action_id": item.get("action_id")} for item in shown["skipped"]]
    return JSON(shown)


@strawberry.type(
    name="WorkflowEvent",
    description=(
        "One row of an attachment's audit trail; subscriptions push the same shape. It points "
        "to the real attachment, stages and pipelines (so a pushed event updates a client's "
        "cached objects) and carries the state after it in `snapshot`."
    ),
)
class WorkflowEventType(relay.Node):
    _id_attr = "database_id"
    database_id: int = strawberry.field(
        description="The event's primary key: increasing, so it orders the audit trail."
    )
    type: EventTypeEnum = strawberry.field(description="What happened.")
    actor: UserType | None = strawberry.field(description="Who acted.")
    delegate: UserType | None = strawberry.field(description="Who received a delegation.")
    reason: str = strawberry.field(description="Reason or comment.")
    form_data: JSON | None = strawberry.field(description="Form data submitted with an approval.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    raw_details: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)
    snapshot_data: strawberry.Private[dict[str, Any] | None] = None
    attachment_pk: strawberry.Private[int] = 0
    # Keys of from_stage, to_stage, from_pipeline, to_pipeline; the rows when already loaded.
    keys: strawberry.Private[dict[str, int | None]] = dataclasses.field(default_factory=dict)
    rows: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)

    @strawberry.field(
        description="Extra details (e.g. a failed action: its error and function path are "
        "shown to workflow managers only)."
    )
    def details(self, info: Info) -> JSON:
        if EventType(self.type) != EventType.ACTION_FAILED:
            return JSON(self.raw_details)
        return loaded_or_in_thread(False, lambda: _action_failure_details(self, info))

    async def _row(self, info: Info, name: str, loader: str) -> Any:
        if name in self.rows:
            return self.rows[name]
        key = self.keys.get(name)
        if key is None:
            return None
        return await getattr(context_of(info).loaders, loader).load(key)

    @strawberry.field(description="The attachment it happened to (its current state).")
    async def attachment(self, info: Info) -> WorkflowAttachmentType:
        return await context_of(info).loaders.attachment_by_id.load(self.attachment_pk)

    @strawberry.field(description="The stage before (null when there was none or it was deleted).")
    async def from_stage(self, info: Info) -> StageType | None:
        return await self._row(info, "from_stage", "stage_by_id")

    @strawberry.field(description="The stage after (null when there is none or it was deleted).")
    async def to_stage(self, info: Info) -> StageType | None:
        return await self._row(info, "to_stage", "stage_by_id")

    @strawberry.field(description="The pipeline before (null when there was none).")
    async def from_pipeline(self, info: Info) -> PipelineType | None:
        return await self._row(info, "from_pipeline", "pipeline_by_id")

    @strawberry.field(description="The pipeline after (null when there is none).")
    async def to_pipeline(self, info: Info) -> PipelineType | None:
        return await self._row(info, "to_pipeline", "pipeline_by_id")

    @strawberry.field(
        description="The attachment's state right after the event (events recorded before "
        "snapshots were stored show the current state)."
    )
    async def snapshot(self, info: Info) -> AttachmentSnapshotType:
        if self.snapshot_data is not None:
            return AttachmentSnapshotType.from_snapshot(self.snapshot_data)
        loaders = context_of(info).loaders
        attachment = await loaders.attachment_by_id.load(self.attachment_pk)
        assert attachment is not None  # events are deleted with their attachment
        stages = await loaders.stages_by_workflow.load(attachment.workflow_id)
        return AttachmentSnapshotType.from_snapshot(attachment_snapshot(attachment, stages))

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> WorkflowEventType:
        """Build the event from a channel-layer message (no database access)."""
        return cls(
            database_id=int(data["id"]),
            type=EventTypeEnum(data["event_type"]),
            attachment_pk=int(data["attachment_id"]),
            keys={name: _key(data[name]) for name in EVENT_REFERENCES},
            actor=_user_from_payload(data["actor"]),
            delegate=_user_from_payload(data["delegate"]),
            reason=data["reason"],
            form_data=data["form_data"],
            raw_details=data["details"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            snapshot_data=data["attachment"],
        )

    @classmethod
    def from_model(cls, event: WorkflowEvent) -> WorkflowEventType:
        return cls(
            database_id=event.pk,
            type=EventTypeEnum(event.event_type),
            attachment_pk=event.attachment_id,
            rows={name: getattr(event, name) for name in EVENT_REFERENCES},
            actor=UserType.from_user(event.actor),
            delegate=UserType.from_user(event.delegate),
            reason=event.reason,
            form_data=event.form_data,
            raw_details=event.details or {},
            occurred_at=event.occurred_at,
            snapshot_data=event.snapshot,
        )


EVENT_REFERENCES = ("from_stage", "to_stage", "from_pipeline", "to_pipeline")


MAX_EVENTS = 100


def _event_key(cursor: str | None, name: str) -> int | None:
    """Return the event id an events cursor holds; another list's cursor is refused."""
    if cursor is None:
        return None
    values = decode_cursor(cursor)
    if values is None or len(values) != 1 or not isinstance(values[0], int):
        raise query_error(
            WorkflowValidationError(f"Argument '{name}' is not a valid cursor.", field=name)
        )
    return values[0]


@strawberry.type(name="WorkflowEventEdge", description="An event and its cursor.")
class WorkflowEventEdge:
    node: WorkflowEventType = strawberry.field(description="The event.")
    cursor: str = strawberry.field(description="Pass as `after` or `before` to page from here.")


@strawberry.type(
    name="WorkflowEventConnection", description="A page of audit events, oldest first."
)
class WorkflowEventConnection:
    total_count: int | None = strawberry.field(description="All events of the attachment.")
    edges: list[WorkflowEventEdge] = strawberry.field(description="The events of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Pagination data.")

    @strawberry.field(description="The events of this page (the nodes of `edges`, for short).")
    def nodes(self) -> list[WorkflowEventType]:
        return [edge.node for edge in self.edges]

    @classmethod
    def slice(
        cls,
        events: list[WorkflowEvent],
        *,
        first: int | None,
        after: str | None,
        last: int | None,
        before: str | None,
    ) -> WorkflowEventConnection:
        """Page ``events`` (ordered by id) by keyset cursors holding an event's id."""
        after_key, before_key = _event_key(after, "after"), _event_key(before, "before")
        window = [
            event
            for event in events
            if (after_key is None or event.pk > after_key)
            and (before_key is None or event.pk < before_key)
        ]
        if last is not None and first is None:
            page = window[-last:] if last else []
            has_previous, has_next = len(window) > len(page), before is not None
        else:
            size = MAX_EVENTS if first is None else first
            page = window[:size]
            has_previous, has_next = after is not None, len(window) > len(page)
            if first is not None and last is not None:
                page = page[-last:] if last else []
        edges = [
            WorkflowEventEdge(
                node=WorkflowEventType.from_model(event), cursor=encode_cursor([event.pk])
            )
            for event in page
        ]
        return cls(
            total_count=len(events),
            edges=edges,
            page_info=relay.PageInfo(
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
                has_previous_page=has_previous,
                has_next_page=has_next,
            ),
        )
