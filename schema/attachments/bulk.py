"""approveStages / rejectStages: up to 100 decisions in one call, one result per item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.workflows import services
from backend.workflows.exceptions import WorkflowError
from backend.workflows.services.bulk import MAX_BULK_ITEMS, BulkResult
from schema.attachments.types import WorkflowAttachmentType
from schema.context import RequestContext
from schema.errors import MutationError, MutationPayload, mutation_error, run_mutation
from schema.global_ids import database_id, optional_database_id

EXPECTED_STAGE_DESCRIPTION = (
    "The current stage the user saw (currentStage.id). If the workflow has moved on, this "
    "item is refused with CONFLICT and its attachment does not change."
)


@strawberry.input(name="ApproveStagesItemInput", description="One approval of approveStages.")
class ApproveStagesItemInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None, description=EXPECTED_STAGE_DESCRIPTION
    )
    form_data: JSON | None = strawberry.field(
        default=None, description="Answers of the step's form."
    )
    comment: str = strawberry.field(default="", description="Optional comment.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key returns the first result and changes nothing.",
    )


@strawberry.input(name="RejectStagesItemInput", description="One rejection of rejectStages.")
class RejectStagesItemInput:
    attachment_id: strawberry.ID = strawberry.field(description="Attachment id.")
    expected_stage_id: strawberry.ID | None = strawberry.field(
        default=None, description=EXPECTED_STAGE_DESCRIPTION
    )
    reason: str = strawberry.field(description="Why (required).")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Replaying the same key returns the first result and changes nothing.",
    )


@strawberry.input(
    name="ApproveStagesInput",
    description=f"Approve your current step on up to {MAX_BULK_ITEMS} attachments.",
)
class ApproveStagesInput:
    items: list[ApproveStagesItemInput] = strawberry.field(
        description=f"1 to {MAX_BULK_ITEMS} approvals, each decided on its own."
    )


@strawberry.input(
    name="RejectStagesInput",
    description=f"Reject up to {MAX_BULK_ITEMS} attachments at your current step.",
)
class RejectStagesInput:
    items: list[RejectStagesItemInput] = strawberry.field(
        description=f"1 to {MAX_BULK_ITEMS} rejections, each decided on its own."
    )


@strawberry.type(
    name="BulkDecisionResult",
    description="The outcome of one item of a bulk decision: the attachment, or why it failed.",
)
class BulkDecisionResultType:
    index: int = strawberry.field(description="The item's position in `items`, from 0.")
    attachment_id: strawberry.ID = strawberry.field(
        description="The item's attachmentId, as given."
    )
    attachment: WorkflowAttachmentType | None = strawberry.field(
        description="The attachment after the decision; null when the item failed."
    )
    error: MutationError | None = strawberry.field(
        description="Why this item changed nothing; the other items are not affected."
    )


def _result(result: BulkResult, given: list[strawberry.ID]) -> BulkDecisionResultType:
    return BulkDecisionResultType(
        index=result.index,
        attachment_id=given[result.index],
        attachment=result.attachment,  # type: ignore[arg-type]
        error=mutation_error(result.error) if result.error is not None else None,
    )


@strawberry.type(name="ApproveStagesPayload", description="Result of approveStages.")
class ApproveStagesPayload(MutationPayload):
    results: list[BulkDecisionResultType] | None = strawberry.field(
        default=None,
        description="One result per item, in the order of `items` (null when `error` is set).",
    )
    error: MutationError | None = strawberry.field(
        default=None,
        description="Why nothing was decided at all (e.g. more than 100 items).",
    )


@strawberry.type(name="RejectStagesPayload", description="Result of rejectStages.")
class RejectStagesPayload(MutationPayload):
    results: list[BulkDecisionResultType] | None = strawberry.field(
        default=None,
        description="One result per item, in the order of `items` (null when `error` is set).",
    )
    error: MutationError | None = strawberry.field(
        default=None,
        description="Why nothing was decided at all (e.g. more than 100 items).",
    )


def _decoded(item: Any, fields: tuple[str, ...]) -> dict[str, Any] | WorkflowError:
    """Return a service item with its ids decoded, or the error an id raised."""
    try:
        decoded = {
            "attachment_id": database_id(
                item.attachment_id, "WorkflowAttachment", field="attachmentId"
            ),
            "expected_stage": optional_database_id(
                item.expected_stage_id, "Stage", field="expectedStageId"
            ),
        }
    except WorkflowError as error:
        return error
    return {**decoded, **{name: getattr(item, name) for name in fields}}


def _bulk(
    decide: Callable[..., list[BulkResult]], items: list[Any], fields: tuple[str, ...]
) -> Callable[[RequestContext], dict[str, Any]]:
    def action(context: RequestContext) -> dict[str, Any]:
        user = context.viewer()
        results = decide(
            items=[_decoded(item, fields) for item in items],
            user=user,
            company_id=context.company_id,
        )
        given = [item.attachment_id for item in items]
        return {"results": [_result(result, given) for result in results]}

    return action


@strawberry.type(description="Bulk decisions (merged into Mutation).")
class BulkDecisionMutations:
    @strawberry.mutation(
        description=(
            f"Approve your current step on up to {MAX_BULK_ITEMS} attachments. Each item is "
            "decided in its own transaction, as approveStage would: a failing item is reported "
            "in its result and never undoes the others."
        )
    )
    async def approve_stages(
        self,
        info: Info,
        input: Annotated[
            ApproveStagesInput, strawberry.argument(description="The approvals to make.")
        ],
    ) -> ApproveStagesPayload | None:
        return await run_mutation(
            info,
            ApproveStagesPayload,
            _bulk(
                services.approve_stages,
                input.items,
                ("form_data", "comment", "idempotency_key"),
            ),
        )

    @strawberry.mutation(
        description=(
            f"Reject up to {MAX_BULK_ITEMS} attachments at your current step. Each item is "
            "decided in its own transaction, as rejectStage would: a failing item is reported "
            "in its result and never undoes the others."
        )
    )
    async def reject_stages(
        self,
        info: Info,
        input: Annotated[
            RejectStagesInput, strawberry.argument(description="The rejections to make.")
        ],
    ) -> RejectStagesPayload | None:
        return await run_mutation(
            info,
            RejectStagesPayload,
            _bulk(services.reject_stages, input.items, ("reason", "idempotency_key")),
        )
