"""DataLoaders of the running-workflows area: open steps, business objects, attachments, events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from strawberry.dataloader import DataLoader

from backend.precompiled import PrecompiledQuery
from backend.workflows import approvals
from backend.workflows.models import WorkflowAttachment, WorkflowEvent
from schema.resolution import batch_loader

AttachmentKey = tuple[int, str]  # (content_type_id, object_id)


def current_steps_by_attachment(keys: list[AttachmentKey]) -> list[list[approvals.StepInfo]]:
    """Return the open approval steps of each attachment's object (one query per model)."""
    by_type: dict[int, list[str]] = defaultdict(list)
    for content_type_id, object_id in keys:
        by_type[content_type_id].append(object_id)
    grouped: dict[AttachmentKey, list[approvals.StepInfo]] = defaultdict(list)
    for content_type_id, object_ids in by_type.items():
        for step in approvals.open_steps_for_objects(content_type_id, object_ids):
            assert step.object_key is not None  # loaded with the flow
            grouped[step.object_key].append(step)
    return [grouped[key] for key in keys]


def targets(keys: list[AttachmentKey]) -> list[tuple[Any, str]]:
    """Return each attachment's business object (None when deleted) and its model label.

    The label is read here, in the batch's thread, so a resolver never hops to a thread
    for a content type (once per attachment, that cost a request a hop per row).
    """
    by_type: dict[int, list[str]] = defaultdict(list)
    for content_type_id, object_id in keys:
        by_type[content_type_id].append(object_id)
    found: dict[AttachmentKey, Any] = {}
    labels: dict[int, str] = {}
    for content_type_id, object_ids in by_type.items():
        content_type = ContentType.objects.get_for_id(content_type_id)
        labels[content_type_id] = f"{content_type.app_label}.{content_type.model}"
        model = content_type.model_class()
        if model is None:
            continue
        for pk, obj in model._default_manager.in_bulk(object_ids).items():
            found[(content_type_id, str(pk))] = obj
    return [(found.get(key), labels[key[0]]) for key in keys]


def attachments(attachment_ids: list[int]) -> list[WorkflowAttachment | None]:
    """Load attachments with what an event's ``attachment { ... }`` reads of them."""
    found = WorkflowAttachment.objects.select_related(
        "current_stage", "current_pipeline", "workflow", "started_by"
    ).in_bulk(attachment_ids)
    return [found.get(pk) for pk in attachment_ids]


def _events_query(attachment_ids: list[int]) -> Any:
    return (
        WorkflowEvent.objects.filter(attachment_id__in=attachment_ids)
        .select_related(
            "actor", "from_stage", "to_stage", "from_pipeline", "to_pipeline", "delegate"
        )
        .order_by("id")
    )


# Read by every list that shows events (the README's inbox): compiled once per page length.
_events_statement = PrecompiledQuery(_events_query)


def events_by_attachment(attachment_ids: list[int]) -> list[list[WorkflowEvent]]:
    """Return each attachment's events, oldest first (one query for all)."""
    grouped: dict[int, list[WorkflowEvent]] = defaultdict(list)
    for event in _events_statement.fetch(attachment_ids=list(attachment_ids)):
        grouped[event.attachment_id].append(event)
    return [grouped[attachment_id] for attachment_id in attachment_ids]


@dataclass
class AttachmentLoaders:
    """Open steps, business objects and events of attachments; attachments by id."""

    current_steps_by_attachment: DataLoader[AttachmentKey, list[approvals.StepInfo]] = field(
        default_factory=lambda: batch_loader(current_steps_by_attachment)
    )
    target_by_attachment: DataLoader[AttachmentKey, tuple[Any, str]] = field(
        default_factory=lambda: batch_loader(targets)
    )
    # Any: resolvers hand the rows to strawberry-django types (WorkflowAttachmentType).
    attachment_by_id: DataLoader[int, Any] = field(
        default_factory=lambda: batch_loader(attachments)
    )
    events_by_attachment: DataLoader[int, list[WorkflowEvent]] = field(
        default_factory=lambda: batch_loader(events_by_attachment)
    )
