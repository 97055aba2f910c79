"""reassignStage: a workflow manager hands the current step to another user or a role."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from backend.workflows import services
from schema.attachments.types import WorkflowAttachmentType
from schema.context import RequestContext
from schema.errors import MutationError, MutationPayload, run_mutation
from schema.global_ids import database_id, optional_database_id


@strawberry.input(
    name="ReassignStageInput",
    description=(
        "Hand the current step of an attachment to another active user or to a role of the "
        "company (workflow managers only). Give exactly one of toUserId and toRoleId."
    ),
)
class ReassignStageInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The current stage the manager saw (currentStage.id). If the workflow has moved "
            "on, the reassignment is refused with CONFLICT and nothing changes."
        ),
    )
    to_user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The active user of the company who gets the step (or give toRoleId).",
    )
    to_role_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The role of the company whose members share the step (or give toUserId).",
    )
    reason: str = strawberry.field(
        description="Why (required, at most 5,000 characters); recorded on REASSIGNED."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key returns the first result and changes nothing.",
    )


@strawberry.type(name="ReassignStagePayload", description="Result of reassignStage.")
class ReassignStagePayload(MutationPayload):
    attachment: WorkflowAttachmentType | None = strawberry.field(
        default=None, description="The attachment, with its new approvers, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(description="Reassignment of stuck steps (merged into Mutation).")
class ReassignmentMutations:
    @strawberry.mutation(
        description=(
            "Reassign the current step to another active user or a role of the company: the "
            "previous approvers lose it, both inboxes are told, REASSIGNED is recorded. Only "
            "workflow managers (the company account, or a user with "
            "workflows.change_workflowattachment)."
        )
    )
    async def reassign_stage(
        self,
        info: Info,
        input: Annotated[
            ReassignStageInput,
            strawberry.argument(description="The attachment, the new approver and the reason."),
        ],
    ) -> ReassignStagePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            user = context.viewer()
            return {
                "attachment": services.reassign_stage(
                    attachment_id=database_id(
                        input.attachment_id, "WorkflowAttachment", field="attachmentId"
                    ),
                    user=user,
                    company_id=context.company_id,
                    expected_stage=optional_database_id(
                        input.expected_stage_id, "Stage", field="expectedStageId"
                    ),
                    to_user=optional_database_id(input.to_user_id, "User", field="toUserId"),
                    to_role=optional_database_id(input.to_role_id, "Role", field="toRoleId"),
                    reason=input.reason,
                    idempotency_key=input.idempotency_key,
                )
            }

        return await run_mutation(info, ReassignStagePayload, action)
