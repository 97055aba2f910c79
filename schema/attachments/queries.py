"""Reads of running workflows, scoped to the viewer's company."""

from __future__ import annotations

from typing import Annotated

import strawberry
import strawberry_django
from django.contrib.contenttypes.models import ContentType
from strawberry.types import Info

from backend.workflows import selectors
from backend.workflows.companies import get_company_id_for_user
from backend.workflows.exceptions import NotFoundError, WorkflowError
from backend.workflows.filters import (
    WorkflowAttachmentFilterSet,
)
from schema.attachments.types import WorkflowAttachmentType
from schema.connections import connection
from schema.context import context_of
from schema.enums import (
    AttachmentStatusEnum,
)
from schema.errors import query_error
from schema.execution.page_statements import PageRows
from schema.execution.pagination import CheckedListConnection
from schema.filters import filter_data, filtered
from schema.global_ids import business_object_key
from schema.tenancy import MAX_PAGE_SIZE, optimized_first, queried_id, viewer_company_id


@strawberry.input(name="WorkflowAttachmentFilter", description="Filters for attachments.")
class WorkflowAttachmentFilterInput:
    status: list[AttachmentStatusEnum] | None = strawberry.field(
        default=None, description="Any of these statuses."
    )
    workflow_id: strawberry.ID | None = strawberry.field(
        default=None, description="Running this workflow (a template matches its copies)."
    )
    model: str | None = strawberry.field(
        default=None, description="app_label.modelname of the object."
    )
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="Waiting in this stage (a template stage matches its copies)."
    )
    started_by_id: strawberry.ID | None = strawberry.field(
        default=None, description="Started by this user."
    )
    overdue: bool | None = strawberry.field(
        default=None,
        description="True: in progress with a step past its due time; false: all the others.",
    )


@strawberry.type(description="Reads of running workflows (merged into Query).")
class AttachmentQueries:
    @strawberry_django.field(description="One workflow attachment of the viewer's company.")
    def workflow_attachment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Attachment id.")],
    ) -> WorkflowAttachmentType | None:
        company_id = viewer_company_id(info)
        attachment = optimized_first(
            selectors.company_attachment_queryset(
                company_id, queried_id(id, "WorkflowAttachment", field="id")
            ),
            info,
        )
        if attachment is None:
            raise query_error(NotFoundError("Workflow attachment not found.", field="id"))
        return attachment

    @strawberry_django.field(
        description='The live (else latest) attachment of a business object, e.g. model: "demo.purchaserequest".'
    )
    def workflow_attachment_for(
        self,
        info: Info,
        model: Annotated[
            str, strawberry.argument(description="app_label.modelname, e.g. demo.purchaserequest.")
        ],
        object_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The object's global id (Target.id) or its primary key."
            ),
        ],
    ) -> WorkflowAttachmentType | None:
        company_id = viewer_company_id(info)
        try:
            key = business_object_key(model, object_id, field="objectId")
        except WorkflowError as error:
            raise query_error(error) from None
        app_label, _, model_name = model.lower().partition(".")
        content_type = ContentType.objects.filter(app_label=app_label, model=model_name).first()
        if content_type is None:
            raise query_error(NotFoundError(f"Unknown model {model!r}.", field="model"))
        attachments = list(
            selectors.company_attachments(company_id).filter(
                content_type=content_type, object_id=str(key)
            )[:5]
        )
        live = [a for a in attachments if a.is_live]
        return (live or attachments or [None])[0]  # type: ignore[list-item,return-value]

    # type-var: see ``workflows``.
    @connection(
        CheckedListConnection[WorkflowAttachmentType] | None,
        description="Attachments of the viewer's company, newest first.",
        max_results=MAX_PAGE_SIZE,
    )
    def workflow_attachments(
        self,
        info: Info,
        filter: Annotated[
            WorkflowAttachmentFilterInput | None,
            strawberry.argument(description="Only attachments matching every given filter."),
        ] = None,
    ) -> list[WorkflowAttachmentType]:
        company_id = viewer_company_id(info)
        return filtered(  # type: ignore[return-value]
            WorkflowAttachmentFilterSet,
            filter_data(
                filter,
                {
                    "workflow_id": ("Workflow", "workflowId"),
                    "stage_id": ("Stage", "stageId"),
                    "started_by_id": ("User", "startedById"),
                },
            ),
            selectors.company_attachments(company_id),
        )

    # type-var: see ``workflows``.
    @connection(
        CheckedListConnection[WorkflowAttachmentType] | None,
        description=(
            "The viewer's inbox: attachments whose current step the viewer can act on, the "
            "earliest due first (`dueAt`), then those without a deadline, newest first."
        ),
        max_results=MAX_PAGE_SIZE,
    )
    def my_pending_approvals(
        self,
        info: Info,
        overdue: Annotated[
            bool | None,
            strawberry.argument(
                description="True: only steps past their due time; false: only the others."
            ),
        ] = None,
    ) -> list[WorkflowAttachmentType]:
        viewer_company_id(info)
        user = context_of(info).user
        if overdue is not None:  # a filter by the time now: built for each request
            inbox = selectors.pending_approvals_by_due_time(user)
            return selectors.filter_overdue(inbox, overdue=overdue)  # type: ignore[return-value]
        # The first page is read with SQL compiled once per document (values bound).
        return PageRows(  # type: ignore[return-value]
            "myPendingApprovals",
            selectors.pending_approvals_by_due_time_of,
            company_id=get_company_id_for_user(user),
            user_id=user.pk,
        )
