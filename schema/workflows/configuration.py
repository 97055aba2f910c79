"""GraphQL for the engine's per-model configuration (``register_model_for_workflow``).

A configuration applies to every company (one row per business model), so only superusers
may change it. The service checks the status and stage fields against the model: an unknown
field is a ``VALIDATION_ERROR`` and nothing changes.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from django.contrib.contenttypes.models import ContentType
from strawberry.types import Info

from backend.workflows import selectors, services
from backend.workflows.exceptions import (
    NotFoundError,
    WorkflowPermissionDenied,
)
from backend.workflows.models import Workflow, WorkflowConfiguration
from schema.context import RequestContext
from schema.errors import MutationError, MutationPayload, run_mutation
from schema.workflows.types import WorkflowType


@strawberry.type(
    name="WorkflowConfiguration", description="How the engine treats one business model."
)
class WorkflowConfigurationType:
    model: str = strawberry.field(description="app_label.modelname of the business model.")
    is_enabled: bool = strawberry.field(description="Whether workflows may run on it.")
    auto_start_workflow: bool = strawberry.field(
        description="Start its default workflow when an object is created."
    )
    status_field: str = strawberry.field(
        description="Field receiving the completion or rejection value (empty: none)."
    )
    stage_field: str = strawberry.field(description="Field naming the current stage (empty: none).")
    completion_status_value: str = strawberry.field(description="Written on completion.")
    rejection_status_value: str = strawberry.field(description="Written on rejection.")
    default_workflow: WorkflowType | None = strawberry.field(
        description="What a new object of the model starts with in the viewer's company: the "
        "template its AUTO_START_WORKFLOWS rule names, else the configured default workflow "
        "(an active template of the viewer's company that MODEL_WORKFLOW_MAPPINGS allows); "
        "null when there is none. A UI preselects it."
    )

    @classmethod
    def from_model(
        cls, configuration: WorkflowConfiguration, default_workflow: Workflow | None = None
    ) -> WorkflowConfigurationType:
        content_type = configuration.content_type
        return cls(
            default_workflow=default_workflow,  # type: ignore[arg-type]
            model=f"{content_type.app_label}.{content_type.model}",
            is_enabled=configuration.is_enabled,
            auto_start_workflow=configuration.auto_start_workflow,
            status_field=configuration.status_field,
            stage_field=configuration.stage_field,
            completion_status_value=configuration.completion_status_value,
            rejection_status_value=configuration.rejection_status_value,
        )


@strawberry.input(
    name="RegisterModelForWorkflowInput",
    description="Configure a business model, as register_model_for_workflow does.",
)
class RegisterModelForWorkflowInput:
    model: str = strawberry.field(description="app_label.modelname, e.g. demo.purchaserequest.")
    status_field: str | None = strawberry.field(
        default=None,
        description="Field receiving the outcome; checked against the model. Null: "
        "DEFAULT_STATUS_FIELD when the model has it.",
    )
    stage_field: str = strawberry.field(default="", description="Field naming the stage; checked.")
    completion_status_value: str = strawberry.field(
        default="", description="Written on completion."
    )
    rejection_status_value: str = strawberry.field(default="", description="Written on rejection.")
    auto_start: bool = strawberry.field(default=False, description="Auto-start on creation.")
    is_enabled: bool = strawberry.field(default=True, description="Whether workflows may run.")


@strawberry.type(
    name="RegisterModelForWorkflowPayload", description="Result of registerModelForWorkflow."
)
class RegisterModelForWorkflowPayload(MutationPayload):
    configuration: WorkflowConfigurationType | None = strawberry.field(
        default=None, description="The result, when there is no error."
    )
    error: MutationError | None = strawberry.field(
        default=None, description="Why nothing changed, when it failed."
    )


def _register(context: RequestContext, data: RegisterModelForWorkflowInput) -> dict[str, Any]:
    if not context.viewer().is_superuser:
        raise WorkflowPermissionDenied(
            "Only administrators may configure models: a configuration applies to every company."
        )
    app_label, _, model_name = data.model.lower().partition(".")
    content_type = ContentType.objects.filter(app_label=app_label, model=model_name).first()
    model = content_type.model_class() if content_type else None
    if model is None:
        raise NotFoundError(f"Unknown model {data.model!r}.", field="model")
    configuration = services.register_model_for_workflow(
        model,
        auto_start=data.auto_start,
        status_field=data.status_field,
        stage_field=data.stage_field,
        completion_status_value=data.completion_status_value,
        rejection_status_value=data.rejection_status_value,
        is_enabled=data.is_enabled,
    )
    defaults = selectors.default_workflows([configuration], context.company_id)
    return {
        "configuration": WorkflowConfigurationType.from_model(
            configuration, defaults.get(configuration.pk)
        )
    }


@strawberry.type(description="Mutations of model configurations (merged into Mutation).")
class ConfigurationMutations:
    @strawberry.mutation(
        description="Configure a business model for workflows (superusers only); an unknown "
        "status or stage field is refused."
    )
    async def register_model_for_workflow(
        self,
        info: Info,
        input: Annotated[
            RegisterModelForWorkflowInput,
            strawberry.argument(description="The model and its settings."),
        ],
    ) -> RegisterModelForWorkflowPayload | None:
        return await run_mutation(
            info, RegisterModelForWorkflowPayload, lambda context: _register(context, input)
        )
