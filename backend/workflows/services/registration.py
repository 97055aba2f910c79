"""Register business models with the engine and auto-start workflows on creation."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldError, ValidationError
from django.db import models, transaction
from django.db.models import Count, QuerySet
from django.db.models.signals import post_save

from backend.workflows import selectors
from backend.workflows.companies import (  # noqa: F401 (CREATOR_FIELDS: public name)
    CREATOR_FIELDS,
    get_company_id_for_user,
    object_creator,
)
from backend.workflows.constants import WorkflowStatus
from backend.workflows.engine_settings import (
    engine_setting,
    is_model_enabled,
    lookup_by_label,
    model_workflow_mapping,
)
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import Workflow, WorkflowConfiguration

logger = logging.getLogger(__name__)

# Fields looked at, in order, to find who created an object (its starter and company).


@transaction.atomic
def register_model_for_workflow(
    model: type[models.Model],
    *,
    auto_start: bool = False,
    status_field: str | None = None,
    stage_field: str = "",
    completion_status_value: str = "",
    rejection_status_value: str = "",
    default_workflow: Workflow | None = None,
    is_enabled: bool = True,
) -> WorkflowConfiguration:
    """Create or update the engine's configuration for ``model``."""
    field_names = {f.name for f in model._meta.concrete_fields}
    if status_field is None:
        default = engine_setting("DEFAULT_STATUS_FIELD")
        status_field = default if default in field_names else ""
    for name, value in (("statusField", status_field), ("stageField", stage_field)):
        if value and value not in field_names:
            raise WorkflowValidationError(
                f"{model._meta.label} has no field '{value}'.", field=name
            )
    configuration, _ = WorkflowConfiguration.objects.update_or_create(
        content_type=ContentType.objects.get_for_model(model),
        defaults={
            "is_enabled": is_enabled,
            "auto_start_workflow": auto_start,
            "status_field": status_field,
            "stage_field": stage_field,
            "completion_status_value": completion_status_value,
            "rejection_status_value": rejection_status_value,
            "default_workflow": default_workflow,
        },
    )
    return configuration


def is_model_workflow_enabled(model: type[models.Model]) -> bool:
    """Tell whether ``model`` is registered and enabled."""
    return WorkflowConfiguration.objects.filter(
        content_type=ContentType.objects.get_for_model(model), is_enabled=True
    ).exists()


def is_model_enabled_for_workflows(model: type[models.Model]) -> bool:
    """Tell whether ``ENABLED_MODELS`` lets workflows attach to ``model`` (the seed's helper)."""
    return is_model_enabled(model)


def _company_filter(company: Any) -> int | None:
    if company is None:
        return None
    return company if isinstance(company, int) else company.pk


def workflows_for_model_queryset(
    model: type[models.Model], *, company: Any = None
) -> QuerySet[Workflow]:
    """Return the query behind ``get_workflows_for_model`` (for callers that add to it)."""
    return selectors.workflows_for_model_queryset(model, company_id=_company_filter(company))


def get_workflows_for_model(model: type[models.Model], *, company: Any = None) -> list[Workflow]:
    """Return the active templates that may be attached to objects of ``model``.

    ``MODEL_WORKFLOW_MAPPINGS`` names them by slug (or by English name, as the seed did) per
    model label, with a ``"default"`` entry for the others; without an entry every active
    template is allowed. A model outside ``ENABLED_MODELS`` gets none. ``company`` (a company
    user or its id) keeps one tenant's templates; without it every company's are listed.
    """
    return list(workflows_for_model_queryset(model, company=company))


def get_workflows_for_object(obj: models.Model, *, company: Any = None) -> list[Workflow]:
    """Return the templates that may be attached to ``obj`` (see ``get_workflows_for_model``)."""
    return get_workflows_for_model(type(obj), company=company)


def get_available_workflows_for_selection(
    model: type[models.Model], *, company: Any = None
) -> list[dict[str, Any]]:
    """Return the seed's selection dicts (``id``, ``name``, ``name_ar``, ``description``,
    ``slug``, ``pipeline_count``, ``is_active``, plus ``status``), in one query."""
    workflows = workflows_for_model_queryset(model, company=company).annotate(
        pipeline_count=Count("pipelines")
    )
    return [
        {
            "id": workflow.pk,
            "name": workflow.name_en,
            "name_ar": workflow.name_ar,
            "description": workflow.description,
            "slug": workflow.slug,
            "pipeline_count": workflow.pipeline_count,  # type: ignore[attr-defined]
            "is_active": workflow.is_active,
            "status": workflow.status,
        }
        for workflow in workflows
    ]


def _matches(obj: models.Model, conditions: dict[str, Any]) -> bool:
    if not conditions:
        return True
    try:
        return type(obj)._default_manager.filter(pk=obj.pk, **conditions).exists()
    except (FieldError, ValidationError, ValueError, TypeError) as error:
        logger.error("Invalid AUTO_START_WORKFLOWS conditions %r: %s", conditions, error)
        return False


def get_auto_start_workflow_for_object(obj: models.Model, user: Any) -> Workflow | None:
    """Return the workflow to start for a newly created ``obj``, if any applies.

    ``AUTO_START_WORKFLOWS`` picks a workflow by slug in the creator's company when the
    object matches its Django-lookup ``conditions``; otherwise a registered model's
    ``default_workflow`` is used when its configuration has ``auto_start_workflow``. A
    workflow ``MODEL_WORKFLOW_MAPPINGS`` does not allow for the model is skipped (and logged)
    rather than failing every creation.
    """
    workflow = _auto_start_candidate(obj, user)
    if workflow is None:
        return None
    allowed = model_workflow_mapping(type(obj))
    if allowed is not None and workflow.slug not in allowed and workflow.name_en not in allowed:
        logger.error(
            "Auto-start workflow %r is not mapped to %s in MODEL_WORKFLOW_MAPPINGS; not started.",
            workflow.slug or workflow.name_en,
            type(obj)._meta.label,
        )
        return None
    return workflow


def _auto_start_candidate(obj: models.Model, user: Any) -> Workflow | None:
    rule = lookup_by_label(engine_setting("AUTO_START_WORKFLOWS") or {}, type(obj))
    company_id = get_company_id_for_user(user)
    if rule:
        if not _matches(obj, rule.get("conditions") or {}):
            return None
        return (
            Workflow.objects.filter(
                company_id=company_id,
                slug=rule.get("workflow_slug"),
                is_hidden=False,
                status=WorkflowStatus.ACTIVE,
            )
            .order_by("-id")
            .first()
        )
    configuration = (
        WorkflowConfiguration.objects.filter(
            content_type=ContentType.objects.get_for_model(obj),
            is_enabled=True,
            auto_start_workflow=True,
        )
        .select_related("default_workflow")
        .first()
    )
    workflow = configuration.default_workflow if configuration else None
    if (
        workflow is not None
        and workflow.company_id == company_id
        and workflow.status == WorkflowStatus.ACTIVE
    ):
        return workflow
    return None


def auto_start_on_create(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    """Attach and start the matching workflow when an enabled object is created."""
    if not created or raw:
        return
    from backend.workflows.services.running import attach_workflow_to_object

    user = object_creator(instance)
    if user is None:
        return
    workflow = get_auto_start_workflow_for_object(instance, user)
    if workflow is not None:
        attach_workflow_to_object(obj=instance, workflow=workflow, user=user, auto_start=True)


def connect_auto_start() -> None:
    """Listen for creations of every model named in ``AUTO_START_WORKFLOWS`` or ``ENABLED_MODELS``.

    Business models belong to the host project, so creation is observed with ``post_save``;
    this is the engine's one use of signals. The workflow is attached inside the creating
    transaction, so a failure to start rolls the creation back with it.
    """
    labels = set(engine_setting("ENABLED_MODELS") or []) | {
        label for label in (engine_setting("AUTO_START_WORKFLOWS") or {}) if label != "default"
    }
    for label in labels:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            logger.error("DJANGO_WORKFLOW_ENGINE names an unknown model: %s", label)
            continue
        post_save.connect(
            auto_start_on_create, sender=model, dispatch_uid=f"workflow-auto-start-{label}"
        )
