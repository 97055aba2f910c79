"""Reads of workflow templates, scoped to the viewer's company."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
import strawberry_django
from django.contrib.contenttypes.models import ContentType
from strawberry.types import Info

from backend.workflows import selectors
from backend.workflows.exceptions import NotFoundError, WorkflowError
from backend.workflows.filters import (
    WorkflowFilterSet,
)
from backend.workflows.services import (
    get_workflow_approval_summary,
    get_workflow_pipeline_structure,
    get_workflow_statistics,
)
from schema.connections import connection
from schema.errors import query_error
from schema.execution.pagination import CheckedListConnection
from schema.filters import filter_data, filtered
from schema.global_ids import business_object_key
from schema.tenancy import MAX_PAGE_SIZE, optimized_first, queried_id, viewer_company_id
from schema.workflows.configuration import WorkflowConfigurationType
from schema.workflows.detailed_types import (
    WorkflowApprovalSummaryType,
    WorkflowPipelineStructureType,
    WorkflowStatisticsType,
)
from schema.workflows.types import WorkflowType


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
    NEWEST = strawberry.enum_value("newest", description="Most recently created first (default).")
    OLDEST = strawberry.enum_value("oldest", description="First created first.")
    NAME = strawberry.enum_value("name", description="By English name, A to Z.")


# The ordering of each sort order (the primary key breaks ties, for keyset cursors).
ORDER_BY = {WorkflowOrder.NEWEST: "-id", WorkflowOrder.OLDEST: "id", WorkflowOrder.NAME: "name_en"}


@strawberry.type(description="Reads of workflow templates (merged into Query).")
class WorkflowQueries:
    # connections of any type work.
    @connection(
        CheckedListConnection[WorkflowType] | None,
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
        company_id_value = viewer_company_id(
            info, queried_id(company_id, "Company", field="companyId")
        )
        queryset = filtered(
            WorkflowFilterSet,
            filter_data(filter, {"department_id": ("Department", "departmentId")}),
            selectors.company_workflows(company_id_value),
        )
        return queryset.order_by(ORDER_BY[order or WorkflowOrder.NEWEST], "-id")  # type: ignore[return-value]

    @strawberry_django.field(description="One workflow of the viewer's company.")
    def workflow(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Workflow id.")],
    ) -> WorkflowType | None:
        company_id = viewer_company_id(info)
        workflow = optimized_first(
            selectors.company_workflow_queryset(company_id, queried_id(id, "Workflow", field="id")),
            info,
        )
        if workflow is None:
            raise query_error(NotFoundError("Workflow not found.", field="id"))
        return workflow

    @strawberry_django.field(
        description="The business models workflows may run on, with their configuration "
        "(status field and values, auto-start, default workflow), by app_label.modelname."
    )
    def workflow_models(self, info: Info) -> list[WorkflowConfigurationType]:
        company_id = viewer_company_id(info)
        configurations = selectors.enabled_workflow_models()
        defaults = selectors.default_workflows(configurations, company_id)
        return [
            WorkflowConfigurationType.from_model(configuration, defaults.get(configuration.pk))
            for configuration in configurations
        ]

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
                description="An object of that model (of the viewer's company) to attach to: "
                "its global id (Target.id, or the id of its own type such as PurchaseRequest) "
                "or its primary key; an unknown object is NOT_FOUND."
            ),
        ] = None,
    ) -> list[WorkflowType]:
        company_id = viewer_company_id(info)
        try:
            key = (
                None
                if object_id is None
                else business_object_key(model, object_id, field="objectId")
            )
        except WorkflowError as error:
            raise query_error(error) from None
        app_label, _, model_name = model.lower().partition(".")
        content_type = ContentType.objects.filter(app_label=app_label, model=model_name).first()
        model_class = content_type.model_class() if content_type else None
        if model_class is None:
            raise query_error(NotFoundError(f"Unknown model {model!r}.", field="model"))
        if key is not None and selectors.company_target(company_id, model, key) is None:
            raise query_error(NotFoundError("Object not found.", field="objectId"))
        return selectors.workflows_for_model_queryset(model_class, company_id=company_id)  # type: ignore[return-value]

    @strawberry_django.field(
        description="The pipelines and stages of one workflow of the viewer's company, e.g. for drawing it."
    )
    def workflow_pipeline_structure(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Workflow id.")],
    ) -> WorkflowPipelineStructureType | None:
        data = get_workflow_pipeline_structure(
            queried_id(id, "Workflow", field="id"), company_id=viewer_company_id(info)
        )
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
    ) -> WorkflowApprovalSummaryType | None:
        data = get_workflow_approval_summary(
            queried_id(id, "Workflow", field="id"), company_id=viewer_company_id(info)
        )
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
    ) -> WorkflowStatisticsType | None:
        return WorkflowStatisticsType.from_dict(
            get_workflow_statistics(
                company_id=viewer_company_id(
                    info, queried_id(company_id, "Company", field="companyId")
                )
            )
        )
