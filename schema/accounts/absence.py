"""Out-of-office: the viewer sets or clears their absence window and substitute."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from backend.workflows import services
from backend.workflows.exceptions import WorkflowValidationError
from schema.accounts.types import OutOfOfficeType
from schema.context import RequestContext
from schema.errors import MutationError, MutationPayload, run_mutation
from schema.global_ids import database_id

MAX_CLIENT_MUTATION_ID = 100


@strawberry.input(
    name="SetOutOfOfficeInput",
    description="Your absence window and the colleague who takes your new steps meanwhile.",
)
class SetOutOfOfficeInput:
    substitute_id: strawberry.ID = strawberry.field(
        description="An active colleague of your company (not you)."
    )
    starts_at: datetime = strawberry.field(description="When the absence starts (with a zone).")
    ends_at: datetime = strawberry.field(
        description="When it ends (exclusive): after startsAt, at most 366 days later."
    )
    reason: str = strawberry.field(default="", description="Optional, at most 500 characters.")


@strawberry.input(name="ClearOutOfOfficeInput", description="Remove your absence window.")
class ClearOutOfOfficeInput:
    client_mutation_id: str | None = strawberry.field(
        default=None,
        description="Optional, at most 100 characters: echoed back in the payload.",
    )


@strawberry.type(name="SetOutOfOfficePayload", description="Result of setOutOfOffice.")
class SetOutOfOfficePayload(MutationPayload):
    out_of_office: OutOfOfficeType | None = strawberry.field(
        default=None, description="The absence as stored, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(name="ClearOutOfOfficePayload", description="Result of clearOutOfOffice.")
class ClearOutOfOfficePayload(MutationPayload):
    cleared: bool | None = strawberry.field(
        default=None, description="True when there was an absence to remove."
    )
    client_mutation_id: str | None = strawberry.field(
        default=None, description="The input's clientMutationId."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(description="Out-of-office of the viewer (merged into Mutation).")
class AbsenceMutations:
    @strawberry.mutation(
        description=(
            "Set (or replace) your absence: while it lasts, steps assigned to you by name go "
            "to the substitute. Unlike delegateStage, it needs no action on each step."
        )
    )
    async def set_out_of_office(
        self,
        info: Info,
        input: Annotated[
            SetOutOfOfficeInput,
            strawberry.argument(description="The window, the substitute and a reason."),
        ],
    ) -> SetOutOfOfficePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            user = context.viewer()
            absence = services.set_out_of_office(
                user=user,
                substitute=database_id(input.substitute_id, "User", field="substituteId"),
                starts_at=input.starts_at,
                ends_at=input.ends_at,
                reason=input.reason,
            )
            return {"out_of_office": OutOfOfficeType.from_absence(absence)}

        return await run_mutation(info, SetOutOfOfficePayload, action)

    @strawberry.mutation(description="Remove your absence window; new steps reach you again.")
    async def clear_out_of_office(
        self,
        info: Info,
        input: Annotated[
            ClearOutOfOfficeInput,
            strawberry.argument(description="Nothing to give but an optional clientMutationId."),
        ],
    ) -> ClearOutOfOfficePayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            user = context.viewer()
            if len(input.client_mutation_id or "") > MAX_CLIENT_MUTATION_ID:
                raise WorkflowValidationError(
                    f"clientMutationId is longer than {MAX_CLIENT_MUTATION_ID} characters.",
                    field="clientMutationId",
                )
            return {
                "cleared": services.clear_out_of_office(user=user),
                "client_mutation_id": input.client_mutation_id,
            }

        return await run_mutation(info, ClearOutOfOfficePayload, action)
