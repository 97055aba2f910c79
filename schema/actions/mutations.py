"""Mutations of stored actions: the backend services check the function path against the allow-list."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from backend.workflows import selectors, services
from backend.workflows.exceptions import (
    NotFoundError,
)
from backend.workflows.models import WorkflowAction
from schema.actions.types import (
    ACTIONS_REFUSED,
    ActionScopeInput,
    CreateWorkflowActionInput,
    UpdateWorkflowActionInput,
    WorkflowActionType,
)
from schema.context import RequestContext
from schema.errors import MutationError, MutationPayload, run_mutation
from schema.global_ids import database_id, global_id


@strawberry.type(name="CreateWorkflowActionPayload", description="Result of createWorkflowAction.")
class CreateWorkflowActionPayload(MutationPayload):
    action: WorkflowActionType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="UpdateWorkflowActionPayload", description="Result of updateWorkflowAction.")
class UpdateWorkflowActionPayload(MutationPayload):
    action: WorkflowActionType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="DeleteWorkflowActionPayload", description="Result of deleteWorkflowAction.")
class DeleteWorkflowActionPayload(MutationPayload):
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted action's id."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


# ----------------------------------------------------------------------------- helpers


def _value(item: Any) -> Any:
    return getattr(item, "value", item)


@strawberry.input(name="DeleteWorkflowActionInput", description="A stored action to delete.")
class DeleteWorkflowActionInput:
    id: strawberry.ID = strawberry.field(description="The action's global id.")


def _given(value: Any) -> bool:
    return value is not None and value is not strawberry.UNSET


def _scope(context: RequestContext, scope: ActionScopeInput) -> dict[str, Any]:
    """Resolve the one id ``scope`` holds (``@oneOf`` lets exactly one through)."""
    if _given(scope.workflow_id):
        workflow = selectors.company_workflow(
            context.company_id,
            database_id(scope.workflow_id, "Workflow", field="scope.workflowId"),
        )
        if workflow is None:
            raise NotFoundError("Workflow not found.", field="scope.workflowId")
        return {"workflow": workflow}
    if _given(scope.pipeline_id):
        pipeline = selectors.company_pipeline(
            context.company_id,
            database_id(scope.pipeline_id, "Pipeline", field="scope.pipelineId"),
        )
        if pipeline is None:
            raise NotFoundError("Pipeline not found.", field="scope.pipelineId")
        return {"pipeline": pipeline}
    if _given(scope.stage_id):
        stage = selectors.company_stage(
            context.company_id, database_id(scope.stage_id, "Stage", field="scope.stageId")
        )
        if stage is None:
            raise NotFoundError("Stage not found.", field="scope.stageId")
        return {"stage": stage}
    # Unreachable through GraphQL (@oneOf); the service refuses an empty scope the same way.
    return {}


def _action(context: RequestContext, action_id: Any) -> WorkflowAction:
    action = selectors.company_workflow_action(
        context.company_id, database_id(action_id, "WorkflowAction", field="id")
    )
    if action is None:
        raise NotFoundError("Workflow action not found.", field="id")
    return action


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
    ) -> CreateWorkflowActionPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager(ACTIONS_REFUSED)
            created = services.create_workflow_action(
                **_scope(context, input.scope),
                action_type=_value(input.action_type),
                function_path=input.function_path,
                # JSON scalar; the service checks that it is an object.
                parameters=input.parameters,  # type: ignore[arg-type]
                order=input.order,
                is_active=input.is_active,
                failure_policy=_value(input.failure_policy),
            )
            return {"action": WorkflowActionType.from_model(created)}

        return await run_mutation(info, CreateWorkflowActionPayload, action)

    @strawberry.mutation(description="Change an action of a template; a new path is checked.")
    async def update_workflow_action(
        self,
        info: Info,
        input: Annotated[
            UpdateWorkflowActionInput, strawberry.argument(description="The changes to make.")
        ],
    ) -> UpdateWorkflowActionPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager(ACTIONS_REFUSED)
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

        return await run_mutation(info, UpdateWorkflowActionPayload, action)

    @strawberry.mutation(description="Delete an action of a template.")
    async def delete_workflow_action(
        self,
        info: Info,
        input: Annotated[
            DeleteWorkflowActionInput, strawberry.argument(description="The action to delete.")
        ],
    ) -> DeleteWorkflowActionPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager(ACTIONS_REFUSED)
            stored = _action(context, input.id)
            deleted = global_id("WorkflowAction", stored.pk)
            services.delete_workflow_action(action=stored)
            return {"deleted_id": deleted}

        return await run_mutation(info, DeleteWorkflowActionPayload, action)
