"""Per-request DataLoaders for computed fields; each batches one kind of read into one query.

Loaders are created fresh for every request (see ``schema.execution.views``): sharing them across
requests would serve stale rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from strawberry.dataloader import DataLoader

from backend.workflows import approvals
from backend.workflows.approval_config import form_model, role_model
from backend.workflows.models import Pipeline, Stage, WorkflowAttachment, WorkflowEvent
from backend.workflows.selectors import configurations_by_content_type, sort_stages

AttachmentKey = tuple[int, str]  # (content_type_id, object_id)


def _stages_by_workflow(workflow_ids: list[int]) -> list[list[Stage]]:
    grouped: dict[int, list[Stage]] = defaultdict(list)
    for stage in Stage.objects.filter(pipeline__workflow_id__in=workflow_ids).select_related(
        "pipeline"
    ):
        grouped[stage.pipeline.workflow_id].append(stage)
    return [sort_stages(grouped[workflow_id]) for workflow_id in workflow_ids]


def _current_steps_by_attachment(keys: list[AttachmentKey]) -> list[list[approvals.StepInfo]]:
    by_type: dict[int, list[str]] = defaultdict(list)
    for content_type_id, object_id in keys:
        by_type[content_type_id].append(object_id)
    grouped: dict[AttachmentKey, list[approvals.StepInfo]] = defaultdict(list)
    for content_type_id, object_ids in by_type.items():
        for step in approvals.open_steps_for_objects(content_type_id, object_ids):
            assert step.object_key is not None  # loaded with the flow
            grouped[step.object_key].append(step)
    return [grouped[key] for key in keys]


def _targets(keys: list[AttachmentKey]) -> list[Any]:
    by_type: dict[int, list[str]] = defaultdict(list)
    for content_type_id, object_id in keys:
        by_type[content_type_id].append(object_id)
    found: dict[AttachmentKey, Any] = {}
    for content_type_id, object_ids in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        for pk, obj in model._default_manager.in_bulk(object_ids).items():
            found[(content_type_id, str(pk))] = obj
    return [found.get(key) for key in keys]


def _by_ids(model: Any):
    def load(ids: list[int]) -> list[Any]:
        found = model._default_manager.in_bulk(ids)
        return [found.get(pk) for pk in ids]

    return load


def _events_by_attachment(attachment_ids: list[int]) -> list[list[WorkflowEvent]]:
    grouped: dict[int, list[WorkflowEvent]] = defaultdict(list)
    for event in (
        WorkflowEvent.objects.filter(attachment_id__in=attachment_ids)
        .select_related(
            "actor", "from_stage", "to_stage", "from_pipeline", "to_pipeline", "delegate"
        )
        .order_by("id")
    ):
        grouped[event.attachment_id].append(event)
    return [grouped[attachment_id] for attachment_id in attachment_ids]


def _attachments(attachment_ids: list[int]) -> list[WorkflowAttachment | None]:
    """Load attachments with what an event's ``attachment { ... }`` reads of them."""
    found = WorkflowAttachment.objects.select_related(
        "current_stage", "current_pipeline", "workflow", "started_by"
    ).in_bulk(attachment_ids)
    return [found.get(pk) for pk in attachment_ids]


def _configurations(content_type_ids: list[int]) -> list[Any]:
    found = configurations_by_content_type(content_type_ids)
    return [found.get(content_type_id) for content_type_id in content_type_ids]


def _loader(batch: Any) -> DataLoader:
    return DataLoader(load_fn=sync_to_async(batch))


@dataclass
class Loaders:
    """The DataLoaders of one request, named ``<Target>By<Key>``."""

    stages_by_workflow: DataLoader = field(default_factory=lambda: _loader(_stages_by_workflow))
    current_steps_by_attachment: DataLoader = field(
        default_factory=lambda: _loader(_current_steps_by_attachment)
    )
    target_by_attachment: DataLoader = field(default_factory=lambda: _loader(_targets))
    user_by_id: DataLoader = field(default_factory=lambda: _loader(_by_ids(get_user_model())))
    role_by_id: DataLoader = field(default_factory=lambda: _loader(_by_ids(role_model())))
    form_by_id: DataLoader = field(default_factory=lambda: _loader(_by_ids(form_model())))
    attachment_by_id: DataLoader = field(default_factory=lambda: _loader(_attachments))
    stage_by_id: DataLoader = field(default_factory=lambda: _loader(_by_ids(Stage)))
    pipeline_by_id: DataLoader = field(default_factory=lambda: _loader(_by_ids(Pipeline)))
    configuration_by_content_type: DataLoader = field(
        default_factory=lambda: _loader(_configurations)
    )
    events_by_attachment: DataLoader = field(default_factory=lambda: _loader(_events_by_attachment))
