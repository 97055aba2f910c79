"""Mutations of running workflows: attach, start, cancel and decide on stages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.workflows import selectors, services
from backend.workflows.exceptions import (
    NotFoundError,
)
from backend.workflows.transitions import Action
from schema.attachments.types import WorkflowAttachmentType
from schema.context import RequestContext
from schema.errors import MutationError, MutationPayload, run_mutation
from schema.global_ids import business_object_key, database_id, optional_database_id


@strawberry.type(name="AttachWorkflowPayload", description="Result of attachWorkflow.")
class AttachWorkflowPayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="StartWorkflowPayload", description="Result of startWorkflow.")
class StartWorkflowPayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="CancelWorkflowPayload", description="Result of cancelWorkflow.")
class CancelWorkflowPayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="ApproveStagePayload", description="Result of approveStage.")
class ApproveStagePayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="CheckInStagePayload", description="Result of checkInStage.")
class CheckInStagePayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="VerifyStagePayload", description="Result of verifyStage.")
class VerifyStagePayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="RejectStagePayload", description="Result of rejectStage.")
class RejectStagePayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="DelegateStagePayload", description="Result of delegateStage.")
class DelegateStagePayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="RequestResubmissionPayload", description="Result of requestResubmission.")
class RequestResubmissionPayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.input(name="AttachWorkflowInput", description="Attach a workflow to a business object.")
class AttachWorkflowInput:
    model: str = strawberry.field(description="app_label.modelname, e.g. demo.purchaserequest.")
    object_id: strawberry.ID = strawberry.field(
        description="The object's global id (Target.id, or the id of its own type such as "
        "PurchaseRequest), or its primary key."
    )
    workflow_id: strawberry.ID = strawberry.field(description="The template to attach.")
    auto_start: bool = strawberry.field(default=True, description="Start at once.")
    metadata: JSON | None = strawberry.field(default=None, description="Free metadata to keep.")
    disable_clone: bool = strawberry.field(
        default=False, description="Run the template itself instead of a copy (not recommended)."
    )


@strawberry.input(name="CancelWorkflowInput", description="Cancel a live workflow.")
class CancelWorkflowInput:
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


@strawberry.input(
    name="StartWorkflowInput", description="Start an attached workflow that has not started."
)
class StartWorkflowInput:
    attachment_id: strawberry.ID = strawberry.field(description="The attachment's global id.")


@strawberry.input(
    name="VerifyStageInput", description="Verify a check-in/verify step after checking in."
)
class VerifyStageInput(ApproveStageInput):
    pass


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


# Decision arguments naming objects: the Node type and the input field errors name.
DECISION_REFERENCES: dict[str, tuple[str, str]] = {
    "attachment_id": ("WorkflowAttachment", "attachmentId"),
    "expected_stage": ("Stage", "expectedStageId"),
    "to_user": ("User", "toUserId"),
    "stage": ("Stage", "stageId"),
}


def _decision(action_name: str, **arguments: Any) -> Callable[[RequestContext], dict[str, Any]]:
    """Return the call of one decision on an attachment (by id, bound to the step it names)."""

    def action(context: RequestContext) -> dict[str, Any]:
        user = context.viewer()
        decoded = {
            name: optional_database_id(
                value, DECISION_REFERENCES[name][0], field=DECISION_REFERENCES[name][1]
            )
            if name in DECISION_REFERENCES
            else value
            for name, value in arguments.items()
        }
        return {
            "attachment": services.decide_on_attachment(
                action=action_name, user=user, company_id=context.company_id, **decoded
            )
        }

    return action


@strawberry.type(description="Mutations of running workflows (merged into Mutation).")
class AttachmentMutations:
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
    ) -> AttachWorkflowPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            user = context.viewer()
            obj = selectors.company_target(
                context.company_id,
                input.model,
                business_object_key(input.model, input.object_id, field="objectId"),
            )
            if obj is None:
                raise NotFoundError("Object not found.", field="objectId")
            workflow = selectors.company_workflow(
                context.company_id,
                database_id(input.workflow_id, "Workflow", field="workflowId"),
            )
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

        return await run_mutation(info, AttachWorkflowPayload, action)

    @strawberry.mutation(description="Start an attached workflow that has not started yet.")
    async def start_workflow(
        self,
        info: Info,
        input: Annotated[
            StartWorkflowInput, strawberry.argument(description="The attachment to start.")
        ],
    ) -> StartWorkflowPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            user = context.viewer()
            return {
                "attachment": services.start_attachment(
                    attachment_id=database_id(
                        input.attachment_id, "WorkflowAttachment", field="attachmentId"
                    ),
                    user=user,
                    company_id=context.company_id,
                )
            }

        return await run_mutation(info, StartWorkflowPayload, action)

    @strawberry.mutation(description="Cancel a live workflow; its open steps are cancelled.")
    async def cancel_workflow(
        self,
        info: Info,
        input: Annotated[
            CancelWorkflowInput,
            strawberry.argument(description="The attachment to cancel and an optional reason."),
        ],
    ) -> CancelWorkflowPayload | None:
        return await run_mutation(
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
    ) -> ApproveStagePayload | None:
        return await run_mutation(
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
    ) -> CheckInStagePayload | None:
        return await run_mutation(
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
            VerifyStageInput,
            strawberry.argument(description="The attachment and the verification."),
        ],
    ) -> VerifyStagePayload | None:
        return await run_mutation(
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
    ) -> RejectStagePayload | None:
        return await run_mutation(
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
    ) -> DelegateStagePayload | None:
        return await run_mutation(
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
    ) -> RequestResubmissionPayload | None:
        return await run_mutation(
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
