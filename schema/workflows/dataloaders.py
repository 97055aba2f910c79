"""DataLoaders of the templates area: stages of a workflow, stages and pipelines by id, and the
configuration of a business model."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from backend.workflows.models import Pipeline, Stage
from backend.workflows.selectors import configurations_by_model, sort_stages
from schema.accounts.dataloaders import by_ids
from schema.resolution import batch_loader


def stages_by_workflow(workflow_ids: list[int]) -> list[list[Stage]]:
    """Return each workflow's stages in running order (one query for all)."""
    grouped: dict[int, list[Stage]] = defaultdict(list)
    for stage in Stage.objects.filter(pipeline__workflow_id__in=workflow_ids).select_related(
        "pipeline"
    ):
        grouped[stage.pipeline.workflow_id].append(stage)
    return [sort_stages(grouped[workflow_id]) for workflow_id in workflow_ids]


def configurations(labels: list[str]) -> list[Any]:
    """Return the enabled configuration of each model label (None when there is none)."""
    found = configurations_by_model(labels)
    return [found.get(label) for label in labels]


@dataclass
class WorkflowLoaders:
    """Stages of a workflow; stages and pipelines by id; a model's configuration by label."""

    stages_by_workflow: DataLoader[int, list[Stage]] = field(
        default_factory=lambda: batch_loader(stages_by_workflow)
    )
    stage_by_id: DataLoader[int, Any] = field(default_factory=lambda: batch_loader(by_ids(Stage)))
    pipeline_by_id: DataLoader[int, Any] = field(
        default_factory=lambda: batch_loader(by_ids(Pipeline))
    )
    configuration_by_model: DataLoader[str, Any] = field(
        default_factory=lambda: batch_loader(configurations)
    )
