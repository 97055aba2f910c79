"""The demo's own GraphQL: purchase requests, added to the API as a host application adds its types.

``PurchaseRequest`` is a Node and the ``Target`` of the attachments that run on a purchase
request; ``purchaseRequests`` lists the viewer's company's requests with keyset cursors;
``createPurchaseRequest`` creates one through ``backend.demo.services``. ``schema/root.py``
merges ``DemoQueries``, ``DemoMutations`` and ``TYPES`` into the schema. This module imports
only ``schema.host`` from the API package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
import strawberry_django
from strawberry import relay
from strawberry.types import Info

from backend.demo import services
from backend.demo.models import PurchaseRequest
from schema.host import (
    DATABASE_ID,
    CheckedListConnection,
    MutationError,
    MutationPayload,
    RequestContext,
    TargetInterface,
    UserType,
    connection,
    model_node_id,
    register_target,
    run_mutation,
    viewer_company_id,
)


@strawberry_django.type(
    PurchaseRequest,
    name="PurchaseRequest",
    description="A purchase request of the demo: the business object its approval workflow runs on.",
)
class PurchaseRequestType(relay.Node, TargetInterface):
    _id = model_node_id("PurchaseRequest")
    database_id: int = strawberry_django.field(field_name="id", description=DATABASE_ID)
    title: str = strawberry_django.field(description="What is requested.")
    description: str = strawberry_django.field(description="Free text from the requester.")
    created_at: datetime = strawberry_django.field(description="When it was requested.")
    workflow_status: str = strawberry_django.field(
        description="Written by the workflow: pending, then approved or denied."
    )
    current_stage: str = strawberry_django.field(
        description="The current stage's name, written by the workflow (empty before it starts)."
    )

    @strawberry_django.field(
        description='The amount, a decimal with two places, e.g. "12500.00".', only=["amount"]
    )
    def amount(self, root: PurchaseRequest) -> str:
        return f"{root.amount:.2f}"

    @strawberry_django.field(description="Who asked for it.", select_related=["requester"])
    def requester(self, root: PurchaseRequest) -> UserType:
        return UserType.from_user(root.requester)


@strawberry.input(name="CreatePurchaseRequestInput", description="A new purchase request.")
class CreatePurchaseRequestInput:
    title: str = strawberry.field(description="What is requested (1 to 200 characters).")
    amount: str = strawberry.field(
        description='The amount, a decimal with at most two places, e.g. "12500.00" '
        "(more than 0, at most 9999999999.99)."
    )
    description: str = strawberry.field(
        default="", description=f"Free text (at most {services.MAX_DESCRIPTION_LENGTH} characters)."
    )


@strawberry.type(
    name="CreatePurchaseRequestPayload", description="Result of createPurchaseRequest."
)
class CreatePurchaseRequestPayload(MutationPayload):
    purchase_request: PurchaseRequestType | None = strawberry.field(
        default=None, description="The new request, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


@strawberry.type(description="The demo's reads (merged into Query).")
class DemoQueries:
    @connection(
        CheckedListConnection[PurchaseRequestType] | None,
        description="The purchase requests of the viewer's company, newest first.",
    )
    def purchase_requests(self, info: Info) -> list[PurchaseRequestType]:
        company_id = viewer_company_id(info)
        return services.company_purchase_requests(company_id).order_by("-id")  # type: ignore[return-value]


@strawberry.type(description="The demo's changes (merged into Mutation).")
class DemoMutations:
    @strawberry.mutation(
        description="Create a purchase request of the viewer (then attach a workflow to it with "
        "attachWorkflow, model demo.purchaserequest and the request's id)."
    )
    async def create_purchase_request(
        self,
        info: Info,
        input: Annotated[
            CreatePurchaseRequestInput, strawberry.argument(description="The request to create.")
        ],
    ) -> CreatePurchaseRequestPayload | None:
        def action(context: RequestContext) -> dict[str, Any]:
            requester = context.viewer()
            return {
                "purchase_request": services.create_purchase_request(
                    requester=requester,
                    title=input.title,
                    amount=input.amount,
                    description=input.description,
                )
            }

        return await run_mutation(info, CreatePurchaseRequestPayload, action)


register_target(
    PurchaseRequest,
    PurchaseRequestType,
    label="Purchase request",
    company_objects=services.company_purchase_requests,
)

# Types the schema must know though no field names them (here: all are reachable).
TYPES: list[type] = [PurchaseRequestType]
