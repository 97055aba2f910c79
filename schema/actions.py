"""GraphQL for stored workflow actions and cleanup statistics.

``ActionQueries`` and ``ActionMutations`` are merged into the Query and Mutation roots by
inheritance. Reads go through company-scoped selectors, writes through the backend services
(``create_workflow_action`` ...), which validate the function path against the allow-list.
Reading or changing actions needs the right to manage the company's workflows (their
parameters may hold addresses or keys); ``cleanupStatistics`` is for staff users only.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.workflows import selectors, services
from backend.workflows.cleanup import format_cleanup_statistics
from backend.workflows.constants import ActionType, FailurePolicy, HandlerConvention
from backend.workflows.exceptions import (
    NotFoundError,
    UnauthenticatedError,
    WorkflowError,
    WorkflowPermissionDenied,
    WorkflowValidationError,
)
from backend.workflows.models import WorkflowAction
from schema.context import RequestContext, context_of
from schema.errors import MutationError, mutation_error, query_error


def _enum(choices: Any, name: str, description: str) -> Any:
    # A functional Enum: mypy cannot see its members, so no overload of strawberry.enum matches.
    return strawberry.enum(  # type: ignore[call-overload]
        Enum(name, {value.upper(): value for value in choices.values}),
        name=name,
        description=description,
    )


ActionTypeEnum = _enum(ActionType, "WorkflowActionType", "When a stored action runs.")
FailurePolicyEnum = _enum(
    FailurePolicy,
    "ActionFailurePolicy",
    "What a failing action does to the later actions of its event.",
)
HandlerConventionEnum = _enum(
    HandlerConvention,
    "ActionHandlerConvention",
    "How the handler is called, read from its signature when the action is saved: CONTEXT is "
    "handler(context, parameters), ATTACHMENT is "
    "handler(workflow_attachment, action_parameters, **context).",
)


@strawberry.enum(name="ActionScopeLevel", description="The level an action is attached to.")
class ActionScopeLevel(Enum):
    WORKFLOW = "workflow"
    PIPELINE = "pipeline"
    STAGE = "stage"


@strawberry.type(
    name="WorkflowAction",
    description=(
        "A handler run after a committed event of its type, scoped to a workflow, a pipeline or "
        "a stage; the most specific level with active actions of a type wins."
    ),
)
class WorkflowActionType:
    id: strawberry.ID = strawberry.field(description="Action id.")
    action_type: ActionTypeEnum = strawberry.field(description="When it runs.")  # type: ignore[valid-type]
    function_path: str = strawberry.field(
        description="Dotted path of a registered handler or one in an allowed module."
    )
    parameters: JSON = strawberry.field(description="JSON object handed to the handler.")
    order: int = strawberry.field(description="Position among the actions of its scope and type.")
    is_active: bool = strawberry.field(description="Inactive actions never run.")
    failure_policy: FailurePolicyEnum = strawberry.field(  # type: ignore[valid-type]
        description="CONTINUE runs the later actions of the event after a failure; STOP skips them."
    )
    scope_level: ActionScopeLevel = strawberry.field(description="Workflow, pipeline or stage.")
    handler_convention: HandlerConventionEnum = strawberry.field(  # type: ignore[valid-type]
        description="How its handler is called (read from the handler's signature on save)."
    )
    workflow_id: strawberry.ID = strawberry.field(
        description="The workflow the action belongs to (directly or through its pipeline or stage)."
    )
    pipeline_id: strawberry.ID | None = strawberry.field(
        description="Its pipeline, for pipeline actions."
    )
    stage_id: strawberry.ID | None = strawberry.field(description="Its stage, for stage actions.")

    @classmethod
    def from_model(cls, action: WorkflowAction) -> WorkflowActionType:
        workflow_id: int | None
        if action.stage_id:
            assert action.stage is not None
            workflow_id = action.stage.pipeline.workflow_id
        elif action.pipeline_id:
            assert action.pipeline is not None
            workflow_id = action.pipeline.workflow_id
        else:
            workflow_id = action.workflow_id
        return cls(
            id=strawberry.ID(str(action.pk)),
            action_type=ActionTypeEnum(action.action_type),
            function_path=action.function_path,
            parameters=action.parameters,
            order=action.order,
            is_active=action.is_active,
            failure_policy=FailurePolicyEnum(action.failure_policy),
            scope_level=ActionScopeLevel(action.scope_level),
            handler_convention=HandlerConventionEnum(action.handler_convention),
            workflow_id=strawberry.ID(str(workflow_id)),
            pipeline_id=strawberry.ID(str(action.pipeline_id)) if action.pipeline_id else None,
            stage_id=strawberry.ID(str(action.stage_id)) if action.stage_id else None,
        )


@strawberry.type(
    name="CleanupAgeBucket", description="Finished attachments older than a number of days."
)
class CleanupAgeBucketType:
    days: int = strawberry.field(description="Age threshold in days.")
    count: int = strawberry.field(description="Completed or rejected attachments older than that.")


@strawberry.type(
    name="CleanupStatistics",
    description="What `manage.py cleanup_workflows` could delete, over every company.",
)
class CleanupStatisticsType:
    total_attachments: int = strawberry.field(description="Every attachment.")
    not_started_attachments: int = strawberry.field(description="Attached, not started.")
    in_progress_attachments: int = strawberry.field(description="Running.")
    completed_attachments: int = strawberry.field(description="Completed.")
    rejected_attachments: int = strawberry.field(description="Rejected.")
    cancelled_attachments: int = strawberry.field(description="Cancelled.")
    finished_attachments: int = strawberry.field(description="Completed plus rejected.")
    by_age: list[CleanupAgeBucketType] = strawberry.field(
        description="Completed or rejected attachments older than 30, 90 and 365 days."
    )
    recommended_days: int | None = strawberry.field(
        description="Suggested --days for cleanup_workflows, or null when nothing is old enough."
    )
    report: str = strawberry.field(
        description="The same figures as `cleanup_workflows --stats` prints."
    )


# ----------------------------------------------------------------------------- inputs and payloads


@strawberry.input(
    name="CreateWorkflowActionInput",
    description="A new action; give exactly one of workflowId, pipelineId and stageId (of a template).",
)
class CreateWorkflowActionInput:
    workflow_id: strawberry.ID | None = strawberry.field(
        default=None, description="Workflow scope."
    )
    pipeline_id: strawberry.ID | None = strawberry.field(
        default=None, description="Pipeline scope."
    )
    stage_id: strawberry.ID | None = strawberry.field(default=None, description="Stage scope.")
    action_type: ActionTypeEnum = strawberry.field(description="When it runs.")  # type: ignore[valid-type]
    function_path: str = strawberry.field(
        description="Dotted path of a registered handler or one in WORKFLOW_ACTION_ALLOWED_MODULES."
    )
    parameters: JSON | None = strawberry.field(
        default=None, description="JSON object for the handler."
    )
    order: int | None = strawberry.field(default=None, description="Position (default: last).")
    is_active: bool = strawberry.field(default=True, description="Whether it runs.")
    failure_policy: FailurePolicyEnum = strawberry.field(  # type: ignore[valid-type]
        default=FailurePolicyEnum("continue"), description="CONTINUE (default) or STOP."
    )


@strawberry.input(
    name="WorkflowActionSpecInput",
    description=(
        "An action given inline with a workflow, pipeline or stage (createWorkflow, addPipeline, "
        "addStage, and the update inputs, where the list replaces that level's actions)."
    ),
)
class WorkflowActionSpecInput:
    action_type: ActionTypeEnum = strawberry.field(description="When it runs.")  # type: ignore[valid-type]
    function_path: str = strawberry.field(
        description="Dotted path of a registered handler or one in WORKFLOW_ACTION_ALLOWED_MODULES."
    )
    parameters: JSON | None = strawberry.field(
        default=None, description="JSON object for the handler."
    )
    order: int | None = strawberry.field(
        default=None, description="Position (default: 1, 2, ... per action type)."
    )
    is_active: bool = strawberry.field(default=True, description="Whether it runs.")
    failure_policy: FailurePolicyEnum = strawberry.field(  # type: ignore[valid-type]
        default=FailurePolicyEnum("continue"), description="CONTINUE (default) or STOP."
    )


def action_specs(items: list[WorkflowActionSpecInput] | None) -> list[dict[str, Any]] | None:
    """Turn inline action inputs into the dicts ``create_workflow(actions=...)`` takes."""
    if items is None:
        return None
    return [
        {
            "action_type": _value(item.action_type),
            "function_path": item.function_path,
            "parameters": item.parameters,
            "order": item.order,
            "is_active": item.is_active,
            "failure_policy": _value(item.failure_policy),
        }
        for item in items
    ]


@strawberry.input(
    name="UpdateWorkflowActionInput",
    description="Changes to an action; null leaves a field as it is.",
)
class UpdateWorkflowActionInput:
    id: strawberry.ID = strawberry.field(description="Action id.")
    action_type: ActionTypeEnum | None = strawberry.field(default=None, description="When it runs.")  # type: ignore[valid-type]
    function_path: str | None = strawberry.field(
        default=None, description="Handler path (checked)."
    )
    parameters: JSON | None = strawberry.field(default=None, description="Replace the parameters.")
    order: int | None = strawberry.field(default=None, description="Position.")
    is_active: bool | None = strawberry.field(default=None, description="Whether it runs.")
    failure_policy: FailurePolicyEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="CONTINUE or STOP."
    )


@strawberry.type(name="CreateWorkflowActionPayload", description="Result of createWorkflowAction.")
class CreateWorkflowActionPayload:
    action: WorkflowActionType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="UpdateWorkflowActionPayload", description="Result of updateWorkflowAction.")
class UpdateWorkflowActionPayload:
    action: WorkflowActionType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="DeleteWorkflowActionPayload", description="Result of deleteWorkflowAction.")
class DeleteWorkflowActionPayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted action's id."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


# ----------------------------------------------------------------------------- helpers


def _manager(context: RequestContext) -> Any:
    return context.manager("You may not see or edit workflow actions.")


def _value(item: Any) -> Any:
    return getattr(item, "value", item)


def _scope(context: RequestContext, data: CreateWorkflowActionInput) -> dict[str, Any]:
    scope: dict[str, Any] = {}
    if data.workflow_id is not None:
        scope["workflow"] = selectors.company_workflow(context.company_id, data.workflow_id)
        if scope["workflow"] is None:
            raise NotFoundError("Workflow not found.", field="workflowId")
    if data.pipeline_id is not None:
        scope["pipeline"] = selectors.company_pipeline(context.company_id, data.pipeline_id)
        if scope["pipeline"] is None:
            raise NotFoundError("Pipeline not found.", field="pipelineId")
    if data.stage_id is not None:
        scope["stage"] = selectors.company_stage(context.company_id, data.stage_id)
        if scope["stage"] is None:
            raise NotFoundError("Stage not found.", field="stageId")
    return scope


def _action(context: RequestContext, action_id: Any) -> WorkflowAction:
    action = selectors.company_workflow_action(context.company_id, action_id)
    if action is None:
        raise NotFoundError("Workflow action not found.", field="id")
    return action


async def _run(info: Info, payload: Any, action: Callable[[RequestContext], dict[str, Any]]) -> Any:
    """Run ``action`` in a worker thread; a domain error becomes the payload's ``error``."""
    context = context_of(info)

    def call() -> Any:
        try:
            return payload(**action(context))
        except WorkflowError as error:
            return payload(error=mutation_error(error))

    return await sync_to_async(call)()


# ----------------------------------------------------------------------------- roots


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
            _manager(context)
            if workflow_id is None and pipeline_id is None and stage_id is None:
                raise WorkflowValidationError(
                    "Give workflowId, pipelineId or stageId.", field="workflowId"
                )
        except WorkflowError as error:
            raise query_error(error) from error
        actions = selectors.company_workflow_actions(
            context.company_id, workflow_id=workflow_id, pipeline_id=pipeline_id, stage_id=stage_id
        ).select_related("pipeline", "stage__pipeline")
        return [WorkflowActionType.from_model(action) for action in actions]

    @strawberry_django.field(
        description="Counts of attachments by status and of finished ones by age; staff users only."
    )
    def cleanup_statistics(self, info: Info) -> CleanupStatisticsType:
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


@strawberry.type(description="Mutations of stored actions (merged into Mutation).")
class ActionMutations:
    @strawberry.mutation(
        description="Add an action to a workflow, pipeline or stage of a template; the path is checked."
    )
    async def create_workflow_action(
        self,
        info: Info,
        input: Annotated[
            CreateWorkflowActionInput, strawberry.argument(description="The action to add.")
        ],
    ) -> CreateWorkflowActionPayload:
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            created = services.create_workflow_action(
                **_scope(context, input),
                action_type=_value(input.action_type),
                function_path=input.function_path,
                # JSON scalar; the service checks that it is an object.
                parameters=input.parameters,  # type: ignore[arg-type]
                order=input.order,
                is_active=input.is_active,
                failure_policy=_value(input.failure_policy),
            )
            return {"action": WorkflowActionType.from_model(created)}

        return await _run(info, CreateWorkflowActionPayload, action)

    @strawberry.mutation(description="Change an action of a template; a new path is checked.")
    async def update_workflow_action(
        self,
        info: Info,
        input: Annotated[
            UpdateWorkflowActionInput, strawberry.argument(description="The changes to make.")
        ],
    ) -> UpdateWorkflowActionPayload:
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            fields = {
                "action_type": _value(input.action_type),
                "function_path": input.function_path,
                "parameters": input.parameters,
                "order": input.order,
                "is_active": input.is_active,
                "failure_policy": _value(input.failure_policy),
            }
            updated = services.update_workflow_action(action=_action(context, input.id), **fields)
            return {"action": WorkflowActionType.from_model(updated)}

        return await _run(info, UpdateWorkflowActionPayload, action)

    @strawberry.mutation(description="Delete an action of a template.")
    async def delete_workflow_action(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Action id.")],
    ) -> DeleteWorkflowActionPayload:
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            services.delete_workflow_action(action=_action(context, id))
            return {"deleted_id": id}

        return await _run(info, DeleteWorkflowActionPayload, action)
