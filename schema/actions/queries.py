"""Queries about stored actions and cleanup."""

from __future__ import annotations

from typing import Annotated

import strawberry
import strawberry_django
from strawberry.types import Info

from backend.workflows import selectors, services
from backend.workflows.cleanup import format_cleanup_statistics
from backend.workflows.exceptions import (
    UnauthenticatedError,
    WorkflowError,
    WorkflowPermissionDenied,
    WorkflowValidationError,
)
from schema.actions.types import (
    ACTIONS_REFUSED,
    CleanupAgeBucketType,
    CleanupStatisticsType,
    WorkflowActionType,
)
from schema.context import context_of
from schema.errors import query_error
from schema.tenancy import queried_id


@strawberry.type(description="Queries about stored actions and cleanup (merged into Query).")
class ActionQueries:
    @strawberry_django.field(
        description=(
            "Stored actions of a workflow (every level), a pipeline (with its stages) or a stage "
            "of the viewer's company; managers only. Ordered workflow, pipeline, stage level, "
            "then type and order."
        )
    )
    def workflow_actions(
        self,
        info: Info,
        workflow_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Actions of this workflow.")
        ] = None,
        pipeline_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Actions of this pipeline and its stages."),
        ] = None,
        stage_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Actions of this stage.")
        ] = None,
    ) -> list[WorkflowActionType]:
        context = context_of(info)
        try:
            context.manager(ACTIONS_REFUSED)
            if workflow_id is None and pipeline_id is None and stage_id is None:
                raise WorkflowValidationError(
                    "Give workflowId, pipelineId or stageId.", field="workflowId"
                )
        except WorkflowError as error:
            raise query_error(error) from error
        actions = selectors.company_workflow_actions(
            context.company_id,
            workflow_id=queried_id(workflow_id, "Workflow", field="workflowId"),
            pipeline_id=queried_id(pipeline_id, "Pipeline", field="pipelineId"),
            stage_id=queried_id(stage_id, "Stage", field="stageId"),
        ).select_related("pipeline", "stage__pipeline")
        return [WorkflowActionType.from_model(action) for action in actions]

    @strawberry_django.field(
        description="Counts of attachments by status and of finished ones by age; staff users only."
    )
    def cleanup_statistics(self, info: Info) -> CleanupStatisticsType | None:
        context = context_of(info)
        try:
            context.viewer()
        except UnauthenticatedError as error:
            raise query_error(error) from None
        if not (context.user.is_staff or context.user.is_superuser):
            raise query_error(
                WorkflowPermissionDenied("Only staff users may see cleanup statistics.")
            )
        statistics = services.get_cleanup_statistics()
        return CleanupStatisticsType(
            total_attachments=statistics["total_attachments"],
            not_started_attachments=statistics["not_started_attachments"],
            in_progress_attachments=statistics["in_progress_attachments"],
            completed_attachments=statistics["completed_attachments"],
            rejected_attachments=statistics["rejected_attachments"],
            cancelled_attachments=statistics["cancelled_attachments"],
            finished_attachments=statistics["finished_attachments"],
            by_age=[CleanupAgeBucketType(**bucket) for bucket in statistics["by_age"]],
            recommended_days=statistics["recommended_days"],
            report=format_cleanup_statistics(statistics),
        )
