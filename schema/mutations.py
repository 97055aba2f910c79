"""Mutation root: parse input, check access, call one backend service, shape the payload.

Every mutation returns ``<Name>Payload`` holding its result or a typed ``error``; services
run in one transaction, so an error means nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from asgiref.sync import sync_to_async
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.workflows import selectors, services
from backend.workflows.exceptions import (
    NotFoundError,
    WorkflowError,
)
from backend.workflows.transitions import Action
from schema.actions import ActionMutations, WorkflowActionSpecInput, action_specs
from schema.configuration import ConfigurationMutations
from schema.context import RequestContext, context_of
from schema.errors import MutationError, mutation_error
from schema.types import (
    PipelineType,
    StageType,
    WorkflowAttachmentType,
    WorkflowStatusEnum,
    WorkflowType,
)


def _payload(name: str, field_name: str, field_type: Any, description: str) -> Any:
    namespace = {
        "__annotations__": {field_name: field_type | None, "error": MutationError | None},
        field_name: strawberry.field(
            default=None, description="The result, when there is no error."
        ),
        "error": strawberry.field(default=None, description="Why nothing changed, when it failed."),
        "__doc__": description,
    }
    return strawberry.type(type(name, (), namespace), name=name, description=description)


def _attachment_payload(name: str, description: str) -> Any:
    return _payload(name, "attachment", WorkflowAttachmentType, description)


AttachWorkflowPayload = _attachment_payload("AttachWorkflowPayload", "Result of attachWorkflow.")
StartWorkflowPayload = _attachment_payload("StartWorkflowPayload", "Result of startWorkflow.")
CancelWorkflowPayload = _attachment_payload("CancelWorkflowPayload", "Result of cancelWorkflow.")
ApproveStagePayload = _attachment_payload("ApproveStagePayload", "Result of approveStage.")
CheckInStagePayload = _attachment_payload("CheckInStagePayload", "Result of checkInStage.")
VerifyStagePayload = _attachment_payload("VerifyStagePayload", "Result of verifyStage.")
RejectStagePayload = _attachment_payload("RejectStagePayload", "Result of rejectStage.")
DelegateStagePayload = _attachment_payload("DelegateStagePayload", "Result of delegateStage.")
RequestResubmissionPayload = _attachment_payload(
    "RequestResubmissionPayload", "Result of requestResubmission."
)
CreateWorkflowPayload = _payload(
    "CreateWorkflowPayload", "workflow", WorkflowType, "Result of createWorkflow."
)
UpdateWorkflowPayload = _payload(
    "UpdateWorkflowPayload", "workflow", WorkflowType, "Result of updateWorkflow."
)
CloneWorkflowPayload = _payload(
    "CloneWorkflowPayload", "workflow", WorkflowType, "Result of cloneWorkflow."
)
DeleteWorkflowPayload = _payload(
    "DeleteWorkflowPayload", "deleted_id", strawberry.ID, "Result of deleteWorkflow."
)
AddPipelinePayload = _payload(
    "AddPipelinePayload", "pipeline", PipelineType, "Result of addPipeline."
)
UpdatePipelinePayload = _payload(
    "UpdatePipelinePayload", "pipeline", PipelineType, "Result of updatePipeline."
)
RemovePipelinePayload = _payload(
    "RemovePipelinePayload", "deleted_id", strawberry.ID, "Result of removePipeline."
)
AddStagePayload = _payload("AddStagePayload", "stage", StageType, "Result of addStage.")
UpdateStagePayload = _payload("UpdateStagePayload", "stage", StageType, "Result of updateStage.")
RemoveStagePayload = _payload(
    "RemoveStagePayload", "deleted_id", strawberry.ID, "Result of removeStage."
)
ReorderStagesPayload = _payload(
    "ReorderStagesPayload", "pipeline", PipelineType, "Result of reorderStages."
)


# ----------------------------------------------------------------------------- inputs


@strawberry.input(name="ApprovalInput", description="One approval requirement of a stage.")
class ApprovalInput:
    approval_type: str = strawberry.field(description="user or role.")
    approval_user: strawberry.ID | None = strawberry.field(
        default=None, description="User id (user approvals)."
    )
    user_role: strawberry.ID | None = strawberry.field(
        default=None, description="Role id (role approvals)."
    )
    role_selection_strategy: str | None = strawberry.field(
        default=None,
        description="anyone, consensus, round_robin, quorum, majority or percentage (default anyone).",
    )
    behaviour: str | None = strawberry.field(
        default=None, description="approve (default), submit, check_in_verify or move."
    )
    required_form: strawberry.ID | None = strawberry.field(
        default=None, description="Form id to fill in."
    )
    quorum_count: int | None = strawberry.field(
        default=None, description="Approvals needed (quorum)."
    )
    percentage_required: float | None = strawberry.field(
        default=None, description="Share of members needed (percentage)."
    )


def _approvals(items: list[ApprovalInput] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    result = []
    for item in items:
        data = {k: v for k, v in vars(item).items() if v is not None and v is not strawberry.UNSET}
        result.append(data)
    return result


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
    }


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
    number_of_stages: int | None = strawberry.field(
        default=None, description="Create this many blank stages."
    )
    stages: list[StageInput] | None = strawberry.field(
        default=None, description="Or: these stages."
    )
    actions: list[WorkflowActionSpecInput] | None = strawberry.field(
        default=None, description="Pipeline-level actions (checked against the allow-list)."
    )


def _pipeline_data(pipeline: PipelineInput) -> dict[str, Any]:
    return {
        "name_en": pipeline.name_en,
        "name_ar": pipeline.name_ar,
        "department_id": pipeline.department_id,
        "number_of_stages": pipeline.number_of_stages,
        "stages": [_stage_data(s) for s in pipeline.stages]
        if pipeline.stages is not None
        else None,
        "actions": action_specs(pipeline.actions),
    }


@strawberry.input(name="CreateWorkflowInput", description="A new workflow template.")
class CreateWorkflowInput:
    name_en: str = strawberry.field(description="English name.")
    name_ar: str = strawberry.field(default="", description="Arabic name.")
    description: str = strawberry.field(default="", description="Free text.")
    slug: str = strawberry.field(default="", description="Identifier for auto-start settings.")
    status: WorkflowStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
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
    status: WorkflowStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
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


@strawberry.input(name="AttachWorkflowInput", description="Attach a workflow to a business object.")
class AttachWorkflowInput:
    model: str = strawberry.field(description="app_label.modelname, e.g. demo.purchaserequest.")
    object_id: strawberry.ID = strawberry.field(description="The object's primary key.")
    workflow_id: strawberry.ID = strawberry.field(description="The template to attach.")
    auto_start: bool = strawberry.field(default=True, description="Start at once.")
    metadata: JSON | None = strawberry.field(default=None, description="Free metadata to keep.")
    disable_clone: bool = strawberry.field(
        default=False, description="Run the template itself instead of a copy (not recommended)."
    )


@strawberry.input(name="AttachmentInput", description="Names an attachment.")
class AttachmentInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The current stage the user saw (currentStage.id). If the workflow has moved on, "
            "the decision is refused with CONFLICT and nothing changes. Always send it: "
            "without it, only a change during the request itself is caught."
        ),
    )
    reason: str = strawberry.field(default="", description="Optional reason.")


@strawberry.input(name="ApproveStageInput", description="Approve your current step.")
class ApproveStageInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The current stage the user saw (currentStage.id). If the workflow has moved on, "
            "the decision is refused with CONFLICT and nothing changes. Always send it: "
            "without it, only a change during the request itself is caught."
        ),
    )
    form_data: JSON | None = strawberry.field(
        default=None, description="Answers of the step's form."
    )
    comment: str = strawberry.field(default="", description="Optional comment.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key returns the first result and changes nothing.",
    )


@strawberry.input(name="CheckInStageInput", description="Check in on a check-in/verify step.")
class CheckInStageInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The current stage the user saw (currentStage.id). If the workflow has moved on, "
            "the decision is refused with CONFLICT and nothing changes. Always send it: "
            "without it, only a change during the request itself is caught."
        ),
    )
    comment: str = strawberry.field(default="", description="Optional comment.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key returns the first result and changes nothing.",
    )


@strawberry.input(name="RejectStageInput", description="Reject the workflow at your current step.")
class RejectStageInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The current stage the user saw (currentStage.id). If the workflow has moved on, "
            "the decision is refused with CONFLICT and nothing changes. Always send it: "
            "without it, only a change during the request itself is caught."
        ),
    )
    reason: str = strawberry.field(description="Why (required).")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key returns the first result and changes nothing.",
    )


@strawberry.input(name="DelegateStageInput", description="Hand your current step to a colleague.")
class DelegateStageInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The current stage the user saw (currentStage.id). If the workflow has moved on, "
            "the decision is refused with CONFLICT and nothing changes. Always send it: "
            "without it, only a change during the request itself is caught."
        ),
    )
    to_user_id: strawberry.ID = strawberry.field(description="The colleague's user id.")
    reason: str = strawberry.field(default="", description="Optional reason.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key returns the first result and changes nothing.",
    )


@strawberry.input(name="RequestResubmissionInput", description="Send the workflow back to a stage.")
class RequestResubmissionInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The current stage the user saw (currentStage.id). If the workflow has moved on, "
            "the decision is refused with CONFLICT and nothing changes. Always send it: "
            "without it, only a change during the request itself is caught."
        ),
    )
    stage_id: strawberry.ID = strawberry.field(
        description="The current or an earlier stage (the running copy's or its template's id)."
    )
    reason: str = strawberry.field(description="What must change (required).")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key returns the first result and changes nothing.",
    )


# ----------------------------------------------------------------------------- helpers


def _viewer(context: RequestContext) -> Any:
    return context.viewer()


def _manager(context: RequestContext) -> Any:
    return context.manager()


def _workflow(context: RequestContext, workflow_id: Any) -> Any:
    workflow = selectors.company_workflow(context.company_id, workflow_id)
    if workflow is None:
        raise NotFoundError("Workflow not found.", field="id")
    return workflow


def _pipeline(context: RequestContext, pipeline_id: Any, field: str = "pipelineId") -> Any:
    pipeline = selectors.company_pipeline(context.company_id, pipeline_id)
    if pipeline is None:
        raise NotFoundError("Pipeline not found.", field=field)
    return pipeline


def _stage(context: RequestContext, stage_id: Any) -> Any:
    stage = selectors.company_stage(context.company_id, stage_id)
    if stage is None:
        raise NotFoundError("Stage not found.", field="id")
    return stage


def _fields(data: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(data, name) for name in names if getattr(data, name) is not None}


async def _run(info: Info, payload: Any, action: Callable[[RequestContext], dict[str, Any]]) -> Any:
    """Run ``action`` in a worker thread; a domain error becomes the payload's ``error``."""
    context = context_of(info)

    def call() -> Any:
        try:
            return payload(**action(context))
        except WorkflowError as error:
            return payload(error=mutation_error(error))

    return await sync_to_async(call)()


def _decision(action_name: str, **arguments: Any) -> Callable[[RequestContext], dict[str, Any]]:
    """Return the call of one decision on an attachment (by id, bound to the step it names)."""

    def action(context: RequestContext) -> dict[str, Any]:
        user = _viewer(context)
        return {
            "attachment": services.decide_on_attachment(
                action=action_name, user=user, company_id=context.company_id, **arguments
            )
        }

    return action


# ----------------------------------------------------------------------------- root


@strawberry.type(
    description="Every change: build workflow templates, attach and run them, decide on stages."
)
class Mutation(ActionMutations, ConfigurationMutations):
    @strawberry.mutation(description="Create a workflow template with its pipelines and stages.")
    async def create_workflow(
        self,
        info: Info,
        input: Annotated[
            CreateWorkflowInput,
            strawberry.argument(description="The template to create."),
        ],
    ) -> CreateWorkflowPayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            user = _manager(context)
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

        return await _run(info, CreateWorkflowPayload, action)

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
    ) -> UpdateWorkflowPayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            workflow = _workflow(context, input.id)
            fields = _fields(input, "name_en", "name_ar", "description", "slug", "is_active")
            if input.status is not None:
                fields["status"] = input.status.value
            return {
                "workflow": services.update_workflow(
                    workflow=workflow, actions=action_specs(input.actions), **fields
                )
            }

        return await _run(info, UpdateWorkflowPayload, action)

    @strawberry.mutation(description="Delete a workflow template no attachment runs directly.")
    async def delete_workflow(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="Id of the template to delete."),
        ],
    ) -> DeleteWorkflowPayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            services.delete_workflow(workflow=_workflow(context, id))
            return {"deleted_id": id}

        return await _run(info, DeleteWorkflowPayload, action)

    @strawberry.mutation(description="Copy a workflow template into a new template.")
    async def clone_workflow(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="Id of the template to copy."),
        ],
        name_en: Annotated[
            str | None,
            strawberry.argument(
                description='English name of the copy (default: the name + " (Copy)").'
            ),
        ] = None,
    ) -> CloneWorkflowPayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            user = _manager(context)
            workflow = _workflow(context, id)
            return {
                "workflow": services.clone_workflow(
                    workflow=workflow, created_by=user, name_en=name_en
                )
            }

        return await _run(info, CloneWorkflowPayload, action)

    @strawberry.mutation(description="Add a pipeline to a workflow template.")
    async def add_pipeline(
        self,
        info: Info,
        input: Annotated[
            AddPipelineInput,
            strawberry.argument(description="The pipeline and the workflow to add it to."),
        ],
    ) -> AddPipelinePayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            workflow = _workflow(context, input.workflow_id)
            data = _pipeline_data(input)
            return {"pipeline": services.add_pipeline(workflow=workflow, order=input.order, **data)}

        return await _run(info, AddPipelinePayload, action)

    @strawberry.mutation(description="Change a pipeline's names, order or department.")
    async def update_pipeline(
        self,
        info: Info,
        input: Annotated[
            UpdatePipelineInput,
            strawberry.argument(description="The pipeline and its changes."),
        ],
    ) -> UpdatePipelinePayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            pipeline = _pipeline(context, input.id, field="id")
            return {
                "pipeline": services.update_pipeline(
                    pipeline=pipeline,
                    department_id=input.department_id,
                    clear_department=input.clear_department,
                    actions=action_specs(input.actions),
                    **_fields(input, "name_en", "name_ar", "order"),
                )
            }

        return await _run(info, UpdatePipelinePayload, action)

    @strawberry.mutation(description="Remove a pipeline and its stages from a template.")
    async def remove_pipeline(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="Id of the pipeline to remove."),
        ],
    ) -> RemovePipelinePayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            services.remove_pipeline(pipeline=_pipeline(context, id, field="id"))
            return {"deleted_id": id}

        return await _run(info, RemovePipelinePayload, action)

    @strawberry.mutation(description="Add a stage to a pipeline.")
    async def add_stage(
        self,
        info: Info,
        input: Annotated[
            AddStageInput,
            strawberry.argument(description="The stage and the pipeline to add it to."),
        ],
    ) -> AddStagePayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            pipeline = _pipeline(context, input.pipeline_id)
            data = _stage_data(input)
            return {"stage": services.add_stage(pipeline=pipeline, order=input.order, **data)}

        return await _run(info, AddStagePayload, action)

    @strawberry.mutation(description="Change a stage, including its approvals.")
    async def update_stage(
        self,
        info: Info,
        input: Annotated[
            UpdateStageInput,
            strawberry.argument(description="The stage and its changes."),
        ],
    ) -> UpdateStagePayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            stage = _stage(context, input.id)
            return {
                "stage": services.update_stage(
                    stage=stage,
                    approvals=_approvals(input.approvals),
                    stage_info=input.stage_info,  # type: ignore[arg-type]
                    actions=action_specs(input.actions),
                    **_fields(input, "name_en", "name_ar", "color", "order"),
                )
            }

        return await _run(info, UpdateStagePayload, action)

    @strawberry.mutation(description="Remove a stage from a template.")
    async def remove_stage(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="Id of the stage to remove."),
        ],
    ) -> RemoveStagePayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            services.remove_stage(stage=_stage(context, id))
            return {"deleted_id": id}

        return await _run(info, RemoveStagePayload, action)

    @strawberry.mutation(description="Set the order of all stages of a pipeline.")
    async def reorder_stages(
        self,
        info: Info,
        input: Annotated[
            ReorderStagesInput,
            strawberry.argument(description="The pipeline and its stages in the new order."),
        ],
    ) -> ReorderStagesPayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            _manager(context)
            pipeline = _pipeline(context, input.pipeline_id)
            services.reorder_stages(pipeline=pipeline, stage_ids=list(input.stage_ids))
            return {"pipeline": pipeline}

        return await _run(info, ReorderStagesPayload, action)

    @strawberry.mutation(
        description="Attach a workflow (a copy, unless disableClone) to a business object."
    )
    async def attach_workflow(
        self,
        info: Info,
        input: Annotated[
            AttachWorkflowInput,
            strawberry.argument(description="The object, the template and how to attach it."),
        ],
    ) -> AttachWorkflowPayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            user = _viewer(context)
            obj = selectors.company_target(context.company_id, input.model, input.object_id)
            if obj is None:
                raise NotFoundError("Object not found.", field="objectId")
            workflow = selectors.company_workflow(context.company_id, input.workflow_id)
            if workflow is None:
                raise NotFoundError("Workflow not found.", field="workflowId")
            return {
                "attachment": services.attach_workflow_to_object(
                    obj=obj,
                    workflow=workflow,
                    user=user,
                    auto_start=input.auto_start,
                    # JSON scalar; the service checks that it is an object.
                    metadata=input.metadata,  # type: ignore[arg-type]
                    disable_clone=input.disable_clone,
                )
            }

        return await _run(info, AttachWorkflowPayload, action)

    @strawberry.mutation(description="Start an attached workflow that has not started yet.")
    async def start_workflow(
        self,
        info: Info,
        attachment_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="Id of the attachment to start."),
        ],
    ) -> StartWorkflowPayload:  # type: ignore[valid-type]
        def action(context: RequestContext) -> dict[str, Any]:
            user = _viewer(context)
            return {
                "attachment": services.start_attachment(
                    attachment_id=attachment_id, user=user, company_id=context.company_id
                )
            }

        return await _run(info, StartWorkflowPayload, action)

    @strawberry.mutation(description="Cancel a live workflow; its open steps are cancelled.")
    async def cancel_workflow(
        self,
        info: Info,
        input: Annotated[
            AttachmentInput,
            strawberry.argument(description="The attachment to cancel and an optional reason."),
        ],
    ) -> CancelWorkflowPayload:  # type: ignore[valid-type]
        return await _run(
            info,
            CancelWorkflowPayload,
            _decision(
                Action.CANCEL,
                attachment_id=input.attachment_id,
                expected_stage=input.expected_stage_id,
                reason=input.reason,
            ),
        )

    @strawberry.mutation(
        description="Approve your current step (on a check-in/verify step: check in first)."
    )
    async def approve_stage(
        self,
        info: Info,
        input: Annotated[
            ApproveStageInput,
            strawberry.argument(description="The attachment and the approval."),
        ],
    ) -> ApproveStagePayload:  # type: ignore[valid-type]
        return await _run(
            info,
            ApproveStagePayload,
            _decision(
                Action.APPROVE,
                attachment_id=input.attachment_id,
                expected_stage=input.expected_stage_id,
                form_data=input.form_data,
                comment=input.comment,
                idempotency_key=input.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Check in on a check-in/verify step (first phase).")
    async def check_in_stage(
        self,
        info: Info,
        input: Annotated[
            CheckInStageInput,
            strawberry.argument(description="The attachment and an optional comment."),
        ],
    ) -> CheckInStagePayload:  # type: ignore[valid-type]
        return await _run(
            info,
            CheckInStagePayload,
            _decision(
                Action.CHECK_IN,
                attachment_id=input.attachment_id,
                expected_stage=input.expected_stage_id,
                comment=input.comment,
                idempotency_key=input.idempotency_key,
            ),
        )

    @strawberry.mutation(
        description="Verify a check-in/verify step after checking in (second phase)."
    )
    async def verify_stage(
        self,
        info: Info,
        input: Annotated[
            ApproveStageInput,
            strawberry.argument(description="The attachment and the verification."),
        ],
    ) -> VerifyStagePayload:  # type: ignore[valid-type]
        return await _run(
            info,
            VerifyStagePayload,
            _decision(
                Action.VERIFY,
                attachment_id=input.attachment_id,
                expected_stage=input.expected_stage_id,
                form_data=input.form_data,
                comment=input.comment,
                idempotency_key=input.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Reject the workflow at your current step.")
    async def reject_stage(
        self,
        info: Info,
        input: Annotated[
            RejectStageInput,
            strawberry.argument(description="The attachment and the reason."),
        ],
    ) -> RejectStagePayload:  # type: ignore[valid-type]
        return await _run(
            info,
            RejectStagePayload,
            _decision(
                Action.REJECT,
                attachment_id=input.attachment_id,
                expected_stage=input.expected_stage_id,
                reason=input.reason,
                idempotency_key=input.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Hand your current step to an active colleague.")
    async def delegate_stage(
        self,
        info: Info,
        input: Annotated[
            DelegateStageInput,
            strawberry.argument(description="The attachment and the colleague."),
        ],
    ) -> DelegateStagePayload:  # type: ignore[valid-type]
        return await _run(
            info,
            DelegateStagePayload,
            _decision(
                Action.DELEGATE,
                attachment_id=input.attachment_id,
                expected_stage=input.expected_stage_id,
                to_user=input.to_user_id,
                reason=input.reason,
                idempotency_key=input.idempotency_key,
            ),
        )

    @strawberry.mutation(description="Send the workflow back to the current or an earlier stage.")
    async def request_resubmission(
        self,
        info: Info,
        input: Annotated[
            RequestResubmissionInput,
            strawberry.argument(
                description="The attachment, the stage to go back to and the reason."
            ),
        ],
    ) -> RequestResubmissionPayload:  # type: ignore[valid-type]
        return await _run(
            info,
            RequestResubmissionPayload,
            _decision(
                Action.REQUEST_RESUBMISSION,
                attachment_id=input.attachment_id,
                expected_stage=input.expected_stage_id,
                stage=input.stage_id,
                reason=input.reason,
                idempotency_key=input.idempotency_key,
            ),
        )
