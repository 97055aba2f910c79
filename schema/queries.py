"""Query root: every read is scoped to the viewer's company through backend selectors."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
import strawberry_django
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from strawberry.types import Info
from strawberry_django.optimizer import optimizer

from backend.workflows import selectors
from backend.workflows.exceptions import NotFoundError, UnauthenticatedError, WorkflowError
from backend.workflows.filters import (
    WorkflowAttachmentFilterSet,
    WorkflowFilterSet,
    apply_filterset,
)
from backend.workflows.services import (
    get_workflow_approval_summary,
    get_workflow_pipeline_structure,
    get_workflow_statistics,
)
from schema.actions import ActionQueries
from schema.context import context_of
from schema.detailed_types import (
    WorkflowApprovalSummaryType,
    WorkflowPipelineStructureType,
    WorkflowStatisticsType,
)
from schema.errors import query_error
from schema.pagination import CheckedListConnection
from schema.types import (
    AttachmentStatusEnum,
    RoleType,
    UserType,
    WorkflowAttachmentType,
    WorkflowType,
)

MAX_PAGE_SIZE = 100


def viewer_company_id(info: Info, requested: strawberry.ID | None = None) -> int:
    """Return the company the viewer acts for (a superuser may name another); or raise."""
    context = context_of(info)
    try:
        context.viewer()
    except UnauthenticatedError as error:
        raise query_error(error) from None
    if requested is not None and context.user.is_superuser:
        return int(requested)
    assert context.company_id is not None
    return context.company_id


def optimized_first(queryset: QuerySet, info: Info) -> Any:
    """Return the first row with what the query selects below it prefetched, as lists get it.

    A resolver returning one object, not a QuerySet, is never optimized: its pipelines would
    be read, and their stages counted, one query at a time.
    """
    extension = optimizer.get()
    if extension is not None:
        queryset = extension.optimize(queryset, info=info)
    return queryset.first()


@strawberry.type(
    name="Company",
    description="A tenant; as in django-dynamic-workflows, a company is a user account.",
)
class CompanyType:
    id: strawberry.ID = strawberry.field(description="Company id.")
    name: str = strawberry.field(description="Company name.")


@strawberry.type(name="Viewer", description="The signed-in user, their company and roles.")
class ViewerType:
    user: UserType = strawberry.field(description="The user.")
    company: CompanyType = strawberry.field(description="The company they act for.")
    roles: list[RoleType] = strawberry.field(description="Roles (groups) they belong to.")


@strawberry.input(name="WorkflowFilter", description="Filters for workflows.")
class WorkflowFilterInput:
    name_contains: str | None = strawberry.field(
        default=None, description="Part of the English name."
    )
    is_active: bool | None = strawberry.field(default=None, description="Active or inactive only.")
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="Has a pipeline of this department."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Created at or after."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Created at or before."
    )


@strawberry.enum(name="WorkflowOrder", description="Sort order of workflow lists.")
class WorkflowOrder(Enum):
    NEWEST = "-id"
    OLDEST = "id"
    NAME = "name_en"


@strawberry.input(name="WorkflowAttachmentFilter", description="Filters for attachments.")
class WorkflowAttachmentFilterInput:
    status: list[AttachmentStatusEnum] | None = strawberry.field(  # type: ignore[valid-type]
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


def _filter_data(value: Any) -> dict[str, Any]:
    if value is None or value is strawberry.UNSET:
        return {}
    data = {}
    for key, item in vars(value).items():
        if item is None or item is strawberry.UNSET:
            continue
        if isinstance(item, list):
            item = [getattr(v, "value", v) for v in item]
        data[key] = item
    return data


def _filtered(filterset: Any, data: dict[str, Any], queryset: QuerySet) -> QuerySet:
    try:
        return apply_filterset(filterset, data, queryset)
    except WorkflowError as error:
        raise query_error(error) from error


@strawberry.type(description="Every read, scoped to the viewer's company.")
class Query(ActionQueries):
    @strawberry_django.field(description="The signed-in user, or null for anonymous callers.")
    def me(self, info: Info) -> ViewerType | None:
        context = context_of(info)
        if not context.is_authenticated:
            return None
        user = context.user
        company = selectors.company_users(context.company_id).filter(pk=context.company_id).first()
        return ViewerType(
            user=UserType.from_user(user),  # type: ignore[arg-type]
            company=CompanyType(
                id=strawberry.ID(str(context.company_id)),
                name=(company.first_name or company.username) if company else "",
            ),
            roles=[RoleType(id=strawberry.ID(str(g.pk)), name=g.name) for g in user.groups.all()],
        )

    # Plain (non-Node) items: strawberry bounds the item TypeVar to relay.Node, but list
    # connections of any type work.
    @strawberry_django.connection(  # type: ignore[type-var]
        CheckedListConnection[WorkflowType],  # type: ignore[type-var]
        description="Workflow templates of the viewer's company (running copies are never listed).",
        max_results=MAX_PAGE_SIZE,
    )
    def workflows(
        self,
        info: Info,
        filter: Annotated[
            WorkflowFilterInput | None,
            strawberry.argument(description="Only workflows matching every given filter."),
        ] = None,
        order: Annotated[
            WorkflowOrder | None,
            strawberry.argument(description="Sort order (default: newest first)."),
        ] = WorkflowOrder.NEWEST,
        company_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Superusers only: list another company's workflows."),
        ] = None,
    ) -> list[WorkflowType]:
        company_id_value = viewer_company_id(info, company_id)
        queryset = _filtered(
            WorkflowFilterSet, _filter_data(filter), selectors.company_workflows(company_id_value)
        )
        return queryset.order_by((order or WorkflowOrder.NEWEST).value, "-id")  # type: ignore[return-value]

    @strawberry_django.field(description="One workflow of the viewer's company.")
    def workflow(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Workflow id.")],
    ) -> WorkflowType:
        company_id = viewer_company_id(info)
        workflow = optimized_first(selectors.company_workflow_queryset(company_id, id), info)
        if workflow is None:
            raise query_error(NotFoundError("Workflow not found.", field="id"))
        return workflow  # type: ignore[return-value]

    @strawberry_django.field(description="One workflow attachment of the viewer's company.")
    def workflow_attachment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Attachment id.")],
    ) -> WorkflowAttachmentType:
        company_id = viewer_company_id(info)
        attachment = optimized_first(selectors.company_attachment_queryset(company_id, id), info)
        if attachment is None:
            raise query_error(NotFoundError("Workflow attachment not found.", field="id"))
        return attachment  # type: ignore[return-value]

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
            strawberry.ID, strawberry.argument(description="Primary key of the object.")
        ],
    ) -> WorkflowAttachmentType | None:
        company_id = viewer_company_id(info)
        app_label, _, model_name = model.lower().partition(".")
        content_type = ContentType.objects.filter(app_label=app_label, model=model_name).first()
        if content_type is None:
            raise query_error(NotFoundError(f"Unknown model {model!r}.", field="model"))
        attachments = list(
            selectors.company_attachments(company_id).filter(
                content_type=content_type, object_id=str(object_id)
            )[:5]
        )
        live = [a for a in attachments if a.is_live]
        return (live or attachments or [None])[0]  # type: ignore[list-item,return-value]

    @strawberry_django.field(
        description=(
            "Active templates of the viewer's company that may be attached to objects of a "
            "model, by English name: ENABLED_MODELS and MODEL_WORKFLOW_MAPPINGS applied, as "
            "get_workflows_for_model answers."
        )
    )
    def available_workflows(
        self,
        info: Info,
        model: Annotated[
            str, strawberry.argument(description="app_label.modelname, e.g. demo.purchaserequest.")
        ],
        object_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="An object of that model (of the viewer's company) to attach to; "
                "an unknown object is NOT_FOUND."
            ),
        ] = None,
    ) -> list[WorkflowType]:
        company_id = viewer_company_id(info)
        app_label, _, model_name = model.lower().partition(".")
        content_type = ContentType.objects.filter(app_label=app_label, model=model_name).first()
        model_class = content_type.model_class() if content_type else None
        if model_class is None:
            raise query_error(NotFoundError(f"Unknown model {model!r}.", field="model"))
        if object_id is not None and selectors.company_target(company_id, model, object_id) is None:
            raise query_error(NotFoundError("Object not found.", field="objectId"))
        return selectors.workflows_for_model_queryset(model_class, company_id=company_id)  # type: ignore[return-value]

    # type-var: see ``workflows``.
    @strawberry_django.connection(  # type: ignore[type-var]
        CheckedListConnection[WorkflowAttachmentType],  # type: ignore[type-var]
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
        return _filtered(  # type: ignore[return-value]
            WorkflowAttachmentFilterSet,
            _filter_data(filter),
            selectors.company_attachments(company_id),
        )

    # type-var: see ``workflows``.
    @strawberry_django.connection(  # type: ignore[type-var]
        CheckedListConnection[WorkflowAttachmentType],  # type: ignore[type-var]
        description="The viewer's inbox: attachments whose current step the viewer can act on, newest first.",
        max_results=MAX_PAGE_SIZE,
    )
    def my_pending_approvals(self, info: Info) -> list[WorkflowAttachmentType]:
        viewer_company_id(info)
        return selectors.pending_approvals_queryset(context_of(info).user)  # type: ignore[return-value]

    @strawberry_django.field(
        description="The pipelines and stages of one workflow of the viewer's company, e.g. for drawing it."
    )
    def workflow_pipeline_structure(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Workflow id.")],
    ) -> WorkflowPipelineStructureType:
        data = get_workflow_pipeline_structure(id, company_id=viewer_company_id(info))
        if data is None:
            raise query_error(NotFoundError("Workflow not found.", field="id"))
        return WorkflowPipelineStructureType.from_dict(data)

    @strawberry_django.field(
        description="The approvals of one workflow of the viewer's company, counted by type, strategy and pipeline."
    )
    def workflow_approval_summary(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Workflow id.")],
    ) -> WorkflowApprovalSummaryType:
        data = get_workflow_approval_summary(id, company_id=viewer_company_id(info))
        if data is None:
            raise query_error(NotFoundError("Workflow not found.", field="id"))
        return WorkflowApprovalSummaryType.from_dict(data)

    @strawberry_django.field(
        description="Counts of the viewer's company's workflow templates (running copies are never counted)."
    )
    def workflow_statistics(
        self,
        info: Info,
        company_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Superusers only: another company's statistics."),
        ] = None,
    ) -> WorkflowStatisticsType:
        return WorkflowStatisticsType.from_dict(
            get_workflow_statistics(company_id=viewer_company_id(info, company_id))
        )
