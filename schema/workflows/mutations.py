"""Mutations of workflow templates: parse input, check access, call one service."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.workflows import selectors, services
from backend.workflows.exceptions import NotFoundError, WorkflowError
from schema.actions.types import WorkflowActionSpecInput, action_specs
from schema.context import RequestContext
from schema.enums import (
    ApprovalTypeEnum,
    BehaviourEnum,
    StrategyEnum,
    TimeoutActionEnum,
    WorkflowStatusEnum,
)
from schema.errors import MutationError, MutationPayload, run_mutation
from schema.global_ids import database_id, global_id, optional_database_id
from schema.workflows.types import PipelineType, StageType, WorkflowType


@strawberry.type(name="CreateWorkflowPayload", description="Result of createWorkflow.")
class CreateWorkflowPayload(MutationPayload):
    workflow: WorkflowType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="UpdateWorkflowPayload", description="Result of updateWorkflow.")
class UpdateWorkflowPayload(MutationPayload):
    workflow: WorkflowType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="CloneWorkflowPayload", description="Result of cloneWorkflow.")
class CloneWorkflowPayload(MutationPayload):
    workflow: WorkflowType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="DeleteWorkflowPayload", description="Result of deleteWorkflow.")
class DeleteWorkflowPayload(MutationPayload):
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted template's id."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="AddPipelinePayload", description="Result of addPipeline.")
class AddPipelinePayload(MutationPayload):
    pipeline: PipelineType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="UpdatePipelinePayload", description="Result of updatePipeline.")
class UpdatePipelinePayload(MutationPayload):
    pipeline: PipelineType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="DeletePipelinePayload", description="Result of deletePipeline.")
class DeletePipelinePayload(MutationPayload):
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted pipeline's id."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="AddStagePayload", description="Result of addStage.")
class AddStagePayload(MutationPayload):
    stage: StageType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="UpdateStagePayload", description="Result of updateStage.")
class UpdateStagePayload(MutationPayload):
    stage: StageType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="DeleteStagePayload", description="Result of deleteStage.")
class DeleteStagePayload(MutationPayload):
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted stage's id."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="ReorderStagesPayload", description="Result of reorderStages.")
class ReorderStagesPayload(MutationPayload):
    pipeline: PipelineType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


# ----------------------------------------------------------------------------- inputs


@strawberry.input(
    name="OnTimeoutInput", description="What happens to a step still open at its due time."
)
class OnTimeoutInput:
    action: TimeoutActionEnum = strawberry.field(description="What process_deadlines does.")
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="ESCALATE: the global id of the user who takes the step."
    )
    role_id: strawberry.ID | None = strawberry.field(
        default=None, description="ESCALATE: the global id of the role that takes the step."
    )


@strawberry.input(
    name="ApprovalInput",
    description="One approval requirement of a stage: the input twin of `Approval`.",
)
class ApprovalInput:
    approval_type: ApprovalTypeEnum = strawberry.field(description="USER or ROLE.")
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The approving user's global id (USER approvals)."
    )
    role_id: strawberry.ID | None = strawberry.field(
        default=None, description="The approving role's global id (ROLE approvals)."
    )
    role_selection_strategy: StrategyEnum | None = strawberry.field(
        default=None, description="How the role's members share the step (default ANYONE)."
    )
    behaviour: BehaviourEnum | None = strawberry.field(
        default=None, description="What the approver must do (default APPROVE)."
    )
    form_id: strawberry.ID | None = strawberry.field(
        default=None, description="The global id of the form the approver fills in."
    )
    quorum_count: int | None = strawberry.field(
        default=None, description="Approvals needed (QUORUM)."
    )
    percentage_required: float | None = strawberry.field(
        default=None, description="Share of members needed (PERCENTAGE)."
    )
    due_in: str | None = strawberry.field(
        default=None,
        description="A deadline once the step opens: ISO 8601 (P2D, PT4H) or 48h, 30m, 2d; "
        "at most 366 days.",
    )
    remind_before: str | None = strawberry.field(
        default=None, description="Remind the approvers this long before the due time."
    )
    on_timeout: OnTimeoutInput | None = strawberry.field(
        default=None, description="What happens at the due time (default NOTIFY)."
    )


# (input attribute, the engine's approval key, the Node type an id names or None)
APPROVAL_KEYS = (
    ("approval_type", "approval_type", None),
    ("user_id", "approval_user", "User"),
    ("role_id", "user_role", "Role"),
    ("role_selection_strategy", "role_selection_strategy", None),
    ("behaviour", "behaviour", None),
    ("form_id", "required_form", "Form"),
    ("quorum_count", "quorum_count", None),
    ("percentage_required", "percentage_required", None),
    ("due_in", "due_in", None),
    ("remind_before", "remind_before", None),
)
# The engine names an approval's fields by the seed's keys; the input names them as the output.
INPUT_NAME_OF = {"approvalUser": "userId", "userRole": "roleId", "requiredForm": "formId"}
_SEED_NAME = re.compile(r"(^|\.)(approvalUser|userRole|requiredForm)$")
_TIMEOUT_NAME = re.compile(r"(\.onTimeout\.)(user|role)$")


def _approvals(items: list[ApprovalInput] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    result = []
    for item in items:
        data = {}
        for attribute, key, type_name in APPROVAL_KEYS:
            value = getattr(item, attribute)
            if value is None or value is strawberry.UNSET:
                continue
            if type_name is not None:
                value = database_id(value, type_name, field=_camel(attribute))
            data[key] = getattr(value, "value", value)
        if item.on_timeout is not None:
            data["on_timeout"] = _on_timeout(item.on_timeout)
        result.append(data)
    return result


def _on_timeout(spec: OnTimeoutInput) -> dict[str, Any]:
    """The engine's ``on_timeout`` dict of ``spec`` (its checks name ``onTimeout.userId``)."""
    data: dict[str, Any] = {"action": spec.action.value}
    for attribute, key, type_name in (("user_id", "user", "User"), ("role_id", "role", "Role")):
        value = getattr(spec, attribute)
        if value is not None:
            data[key] = database_id(value, type_name, field=f"onTimeout.{_camel(attribute)}")
    return data


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _input_names(action: Callable[[RequestContext], dict[str, Any]]) -> Any:
    """Name an approval's fields in errors as ``ApprovalInput`` does (``stageInfo`` keeps the seed's)."""

    def named(context: RequestContext) -> dict[str, Any]:
        try:
            return action(context)
        except WorkflowError as error:
            if error.field and "stageInfo" not in error.field:
                error.field = _SEED_NAME.sub(
                    lambda match: match.group(1) + INPUT_NAME_OF[match.group(2)], error.field
                )
                error.field = _TIMEOUT_NAME.sub(r"\1\2Id", error.field)
            raise

    return named


@strawberry.input(name="StageInput", description="A stage to create.")
class StageInput:
    name_en: str = strawberry.field(description="English name.")
    name_ar: str = strawberry.field(default="", description="Arabic name.")
    color: str | None = strawberry.field(default=None, description="Display colour.")
    approvals: list[ApprovalInput] = strawberry.field(
        default_factory=list, description="Approvals, in order."
    )
    actions: list[WorkflowActionSpecInput] | None = strawberry.field(
        default=None, description="Stage-level actions (checked against the allow-list)."
    )
    stage_info: JSON | None = strawberry.field(
        default=None,
        description='The seed\'s {"color", "approvals"} object, instead of color and approvals; '
        "other keys are refused.",
    )
    condition: JSON | None = strawberry.field(
        default=None,
        description=(
            "Run the stage only when the object matches these Django lookups, e.g. "
            '{"amount__gte": 10000} (at most 20 lookups), evaluated when the stage would '
            "become current; otherwise it is skipped (STAGE_SKIPPED). Null: always."
        ),
    )


def _stage_data(stage: StageInput) -> dict[str, Any]:
    with_info = stage.stage_info is not None
    return {
        "name_en": stage.name_en,
        "name_ar": stage.name_ar,
        "color": stage.color,
        # approvals default to an empty list; with stage_info they come from there
        "approvals": None if with_info and not stage.approvals else _approvals(stage.approvals),
        "stage_info": stage.stage_info,
        "actions": action_specs(stage.actions),
        "condition": stage.condition,
    }


@strawberry.input(
    name="PipelineStagesInput",
    one_of=True,
    description="The stages of a new pipeline: exactly one of a list of stages or a number of "
    "blank stages (the request is refused before anything runs when none or both are given).",
)
class PipelineStagesInput:
    stages: list[StageInput] | None = strawberry.field(
        name="list", default=strawberry.UNSET, description="These stages, in order."
    )
    blank: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="This many blank stages named Stage 1, Stage 2, ... (0 to 50), to fill in later.",
    )


def _stages_data(stages: PipelineStagesInput | None) -> dict[str, Any]:
    """The service's ``stages`` or ``number_of_stages`` key for the one alternative given."""
    if stages is None:
        return {"stages": None, "number_of_stages": None}
    if stages.stages is not None and stages.stages is not strawberry.UNSET:
        return {"stages": [_stage_data(s) for s in stages.stages], "number_of_stages": None}
    blank = stages.blank if stages.blank is not strawberry.UNSET else None
    return {"stages": None, "number_of_stages": blank}


@strawberry.input(
    name="PipelineInput",
    description="A pipeline to create, with stages or a number of blank stages.",
)
class PipelineInput:
    name_en: str = strawberry.field(description="English name.")
    name_ar: str = strawberry.field(default="", description="Arabic name.")
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="Department id."
    )
    stages: PipelineStagesInput | None = strawberry.field(
        default=None,
        description="Its stages: a list, or a number of blank ones (default: no stages).",
    )
    actions: list[WorkflowActionSpecInput] | None = strawberry.field(
        default=None, description="Pipeline-level actions (checked against the allow-list)."
    )


def _pipeline_data(pipeline: PipelineInput) -> dict[str, Any]:
    return {
        "name_en": pipeline.name_en,
        "name_ar": pipeline.name_ar,
        "department_id": optional_database_id(
            pipeline.department_id, "Department", field="departmentId"
        ),
        **_stages_data(pipeline.stages),
        "actions": action_specs(pipeline.actions),
    }


@strawberry.input(name="CreateWorkflowInput", description="A new workflow template.")
class CreateWorkflowInput:
    name_en: str = strawberry.field(description="English name.")
    name_ar: str = strawberry.field(default="", description="Arabic name.")
    description: str = strawberry.field(default="", description="Free text.")
    slug: str = strawberry.field(default="", description="Identifier for auto-start settings.")
    status: WorkflowStatusEnum | None = strawberry.field(
        default=None,
        description="DRAFT, ACTIVE or ARCHIVED (default ACTIVE, or DRAFT when isActive is false).",
    )
    is_active: bool | None = strawberry.field(
        default=None, description="The seed's flag: false creates a DRAFT. Prefer status."
    )
    pipelines: list[PipelineInput] = strawberry.field(
        default_factory=list, description="Pipelines, in order."
    )
    actions: list[WorkflowActionSpecInput] | None = strawberry.field(
        default=None, description="Workflow-level actions (checked against the allow-list)."
    )


@strawberry.input(name="UpdateWorkflowInput", description="Changes to a workflow template.")
class UpdateWorkflowInput:
    id: strawberry.ID = strawberry.field(description="Workflow id.")
    name_en: str | None = strawberry.field(default=None, description="English name.")
    name_ar: str | None = strawberry.field(default=None, description="Arabic name.")
    description: str | None = strawberry.field(default=None, description="Free text.")
    slug: str | None = strawberry.field(default=None, description="Identifier.")
    status: WorkflowStatusEnum | None = strawberry.field(
        default=None, description="DRAFT, ACTIVE or ARCHIVED."
    )
    is_active: bool | None = strawberry.field(
        default=None,
        description="The seed's flag: true activates, false archives an active template. Prefer status.",
    )
    actions: list[WorkflowActionSpecInput] | None = strawberry.field(
        default=None, description="Replace the workflow-level actions (checked)."
    )


@strawberry.input(name="AddPipelineInput", description="A pipeline to add to a workflow.")
class AddPipelineInput(PipelineInput):
    workflow_id: strawberry.ID = strawberry.field(description="Workflow id.")
    order: int | None = strawberry.field(default=None, description="Position (default: last).")


@strawberry.input(name="UpdatePipelineInput", description="Changes to a pipeline.")
class UpdatePipelineInput:
    id: strawberry.ID = strawberry.field(description="Pipeline id.")
    name_en: str | None = strawberry.field(default=None, description="English name.")
    name_ar: str | None = strawberry.field(default=None, description="Arabic name.")
    order: int | None = strawberry.field(default=None, description="Position.")
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="Department id."
    )
    clear_department: bool = strawberry.field(default=False, description="Remove the department.")
    actions: list[WorkflowActionSpecInput] | None = strawberry.field(
        default=None, description="Replace the pipeline-level actions (checked)."
    )


@strawberry.input(name="AddStageInput", description="A stage to add to a pipeline.")
class AddStageInput(StageInput):
    pipeline_id: strawberry.ID = strawberry.field(description="Pipeline id.")
    order: int | None = strawberry.field(default=None, description="Position (default: last).")


@strawberry.input(
    name="UpdateStageInput", description="Changes to a stage, including its approvals."
)
class UpdateStageInput:
    id: strawberry.ID = strawberry.field(description="Stage id.")
    name_en: str | None = strawberry.field(default=None, description="English name.")
    name_ar: str | None = strawberry.field(default=None, description="Arabic name.")
    color: str | None = strawberry.field(default=None, description="Display colour.")
    order: int | None = strawberry.field(default=None, description="Position.")
    approvals: list[ApprovalInput] | None = strawberry.field(
        default=None, description="Replace the approvals (validated)."
    )
    condition: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            'Replace the stage\'s condition (Django lookups, e.g. {"amount__gte": 10000}); '
            "null removes it; leave it out to keep it."
        ),
    )
    actions: list[WorkflowActionSpecInput] | None = strawberry.field(
        default=None, description="Replace the stage-level actions (checked)."
    )
    stage_info: JSON | None = strawberry.field(
        default=None,
        description='The seed\'s {"color", "approvals"} object, instead of color and approvals; '
        "other keys are refused.",
    )


@strawberry.input(name="ReorderStagesInput", description="A new order of all stages of a pipeline.")
class ReorderStagesInput:
    pipeline_id: strawberry.ID = strawberry.field(description="Pipeline id.")
    stage_ids: list[strawberry.ID] = strawberry.field(
        description="Every stage id, in the new order."
    )


@strawberry.input(name="DeleteWorkflowInput", description="A workflow template to delete.")
class DeleteWorkflowInput:
    id: strawberry.ID = strawberry.field(description="The template's global id.")


@strawberry.input(name="CloneWorkflowInput", description="A workflow template to copy.")
class CloneWorkflowInput:
    id: strawberry.ID = strawberry.field(description="The template's global id.")
    name_en: str | None = strawberry.field(
        default=None, description='English name of the copy (default: the name + " (Copy)").'
    )


@strawberry.input(name="DeletePipelineInput", description="A pipeline to delete, with its stages.")
class DeletePipelineInput:
    id: strawberry.ID = strawberry.field(description="The pipeline's global id.")


@strawberry.input(name="DeleteStageInput", description="A stage to delete.")
class DeleteStageInput:
    id: strawberry.ID = strawberry.field(description="The stage's global id.")


def _workflow(context: RequestContext, workflow_id: Any) -> Any:
    key = database_id(workflow_id, "Workflow", field="id")
    workflow = selectors.company_workflow(context.company_id, key)
    if workflow is None:
        raise NotFoundError("Workflow not found.", field="id")
    return workflow


def _pipeline(context: RequestContext, pipeline_id: Any, field: str = "pipelineId") -> Any:
    key = database_id(pipeline_id, "Pipeline", field=field)
    pipeline = selectors.company_pipeline(context.company_id, key)
    if pipeline is None:
        raise NotFoundError("Pipeline not found.", field=field)
    return pipeline


def _stage(context: RequestContext, stage_id: Any) -> Any:
    key = database_id(stage_id, "Stage", field="id")
    stage = selectors.company_stage(context.company_id, key)
    if stage is None:
        raise NotFoundError("Stage not found.", field="id")
    return stage


def _condition(value: Any) -> dict[str, Any]:
    """Return ``{"condition": value}`` unless the input left it out (null removes it)."""
    return {} if value is strawberry.UNSET else {"condition": value}


def _fields(data: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(data, name) for name in names if getattr(data, name) is not None}


@strawberry.type(description="Mutations of workflow templates (merged into Mutation).")
class WorkflowMutations:
    @strawberry.mutation(description="Create a workflow template with its pipelines and stages.")
    async def create_workflow(
        self,
        info: Info,
        input: Annotated[
            CreateWorkflowInput,
            strawberry.argument(description="The template to create."),
        ],
    ) -> CreateWorkflowPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            user = context.manager()
            return {
                "workflow": services.create_workflow(
                    company=context.company_id,
                    created_by=user,
                    name_en=input.name_en,
                    name_ar=input.name_ar,
                    description=input.description,
                    slug=input.slug,
                    status=input.status.value if input.status else None,
                    is_active=input.is_active,
                    pipelines=[_pipeline_data(p) for p in input.pipelines],
                    actions=action_specs(input.actions),
                )
            }

        return await run_mutation(info, CreateWorkflowPayload, _input_names(action))

    @strawberry.mutation(
        description="Change a workflow template's names, description, slug, status or actions."
    )
    async def update_workflow(
        self,
        info: Info,
        input: Annotated[
            UpdateWorkflowInput,
            strawberry.argument(description="The template and its changes."),
        ],
    ) -> UpdateWorkflowPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            workflow = _workflow(context, input.id)
            fields = _fields(input, "name_en", "name_ar", "description", "slug", "is_active")
            if input.status is not None:
                fields["status"] = input.status.value
            return {
                "workflow": services.update_workflow(
                    workflow=workflow, actions=action_specs(input.actions), **fields
                )
            }

        return await run_mutation(info, UpdateWorkflowPayload, _input_names(action))

    @strawberry.mutation(description="Delete a workflow template no attachment runs directly.")
    async def delete_workflow(
        self,
        info: Info,
        input: Annotated[
            DeleteWorkflowInput, strawberry.argument(description="The template to delete.")
        ],
    ) -> DeleteWorkflowPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            workflow = _workflow(context, input.id)
            deleted = global_id("Workflow", workflow.pk)
            services.delete_workflow(workflow=workflow)
            return {"deleted_id": deleted}

        return await run_mutation(info, DeleteWorkflowPayload, _input_names(action))

    @strawberry.mutation(description="Copy a workflow template into a new template.")
    async def clone_workflow(
        self,
        info: Info,
        input: Annotated[
            CloneWorkflowInput, strawberry.argument(description="The template to copy.")
        ],
    ) -> CloneWorkflowPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            user = context.manager()
            workflow = _workflow(context, input.id)
            return {
                "workflow": services.clone_workflow(
                    workflow=workflow, created_by=user, name_en=input.name_en
                )
            }

        return await run_mutation(info, CloneWorkflowPayload, _input_names(action))

    @strawberry.mutation(description="Add a pipeline to a workflow template.")
    async def add_pipeline(
        self,
        info: Info,
        input: Annotated[
            AddPipelineInput,
            strawberry.argument(description="The pipeline and the workflow to add it to."),
        ],
    ) -> AddPipelinePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            workflow = _workflow(context, input.workflow_id)
            data = _pipeline_data(input)
            return {"pipeline": services.add_pipeline(workflow=workflow, order=input.order, **data)}

        return await run_mutation(info, AddPipelinePayload, _input_names(action))

    @strawberry.mutation(description="Change a pipeline's names, order or department.")
    async def update_pipeline(
        self,
        info: Info,
        input: Annotated[
            UpdatePipelineInput,
            strawberry.argument(description="The pipeline and its changes."),
        ],
    ) -> UpdatePipelinePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            pipeline = _pipeline(context, input.id, field="id")
            return {
                "pipeline": services.update_pipeline(
                    pipeline=pipeline,
                    department_id=optional_database_id(
                        input.department_id, "Department", field="departmentId"
                    ),
                    clear_department=input.clear_department,
                    actions=action_specs(input.actions),
                    **_fields(input, "name_en", "name_ar", "order"),
                )
            }

        return await run_mutation(info, UpdatePipelinePayload, _input_names(action))

    @strawberry.mutation(description="Delete a pipeline and its stages from a template.")
    async def delete_pipeline(
        self,
        info: Info,
        input: Annotated[
            DeletePipelineInput, strawberry.argument(description="The pipeline to delete.")
        ],
    ) -> DeletePipelinePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            pipeline = _pipeline(context, input.id, field="id")
            deleted = global_id("Pipeline", pipeline.pk)
            services.remove_pipeline(pipeline=pipeline)
            return {"deleted_id": deleted}

        return await run_mutation(info, DeletePipelinePayload, _input_names(action))

    @strawberry.mutation(description="Add a stage to a pipeline.")
    async def add_stage(
        self,
        info: Info,
        input: Annotated[
            AddStageInput,
            strawberry.argument(description="The stage and the pipeline to add it to."),
        ],
    ) -> AddStagePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            pipeline = _pipeline(context, input.pipeline_id)
            data = _stage_data(input)
            return {"stage": services.add_stage(pipeline=pipeline, order=input.order, **data)}

        return await run_mutation(info, AddStagePayload, _input_names(action))

    @strawberry.mutation(description="Change a stage, including its approvals.")
    async def update_stage(
        self,
        info: Info,
        input: Annotated[
            UpdateStageInput,
            strawberry.argument(description="The stage and its changes."),
        ],
    ) -> UpdateStagePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            stage = _stage(context, input.id)
            return {
                "stage": services.update_stage(
                    stage=stage,
                    approvals=_approvals(input.approvals),
                    stage_info=input.stage_info,  # type: ignore[arg-type]
                    actions=action_specs(input.actions),
                    **_fields(input, "name_en", "name_ar", "color", "order"),
                    **_condition(input.condition),
                )
            }

        return await run_mutation(info, UpdateStagePayload, _input_names(action))

    @strawberry.mutation(description="Delete a stage from a template.")
    async def delete_stage(
        self,
        info: Info,
        input: Annotated[DeleteStageInput, strawberry.argument(description="The stage to delete.")],
    ) -> DeleteStagePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            stage = _stage(context, input.id)
            deleted = global_id("Stage", stage.pk)
            services.remove_stage(stage=stage)
            return {"deleted_id": deleted}

        return await run_mutation(info, DeleteStagePayload, _input_names(action))

    @strawberry.mutation(description="Set the order of all stages of a pipeline.")
    async def reorder_stages(
        self,
        info: Info,
        input: Annotated[
            ReorderStagesInput,
            strawberry.argument(description="The pipeline and its stages in the new order."),
        ],
    ) -> ReorderStagesPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            context.manager()
            pipeline = _pipeline(context, input.pipeline_id)
            stage_ids = [
                database_id(stage_id, "Stage", field="stageIds") for stage_id in input.stage_ids
            ]
            services.reorder_stages(pipeline=pipeline, stage_ids=stage_ids)
            return {"pipeline": pipeline}

        return await run_mutation(info, ReorderStagesPayload, _input_names(action))
