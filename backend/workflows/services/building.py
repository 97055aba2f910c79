"""Build and edit workflow templates: workflows, pipelines, stages and their approvals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Max, Model, Q

from backend.workflows.approval_config import validate_approvals
from backend.workflows.conditions import validate_condition
from backend.workflows.constants import LIVE_STATUSES, WorkflowStatus
from backend.workflows.engine_settings import department_model
from backend.workflows.exceptions import (
    InvalidStateError,
    NotFoundError,
    WorkflowValidationError,
)
from backend.workflows.input_limits import check_color, check_columns, parse_id
from backend.workflows.models import Pipeline, Stage, Workflow, WorkflowAction
from backend.workflows.selectors import sort_stages
from backend.workflows.services.actions import build_actions, replace_actions

DEFAULT_STAGE_COLOR = "#3498db"
MAX_STAGES_PER_PIPELINE = 50
MAX_PIPELINES_PER_WORKFLOW = 50
WORKFLOW_FIELDS = ("name_en", "name_ar", "description", "is_active", "status", "slug")
PIPELINE_FIELDS = ("name_en", "name_ar", "order")
STAGE_FIELDS = ("name_en", "name_ar", "color", "order")
# Keys a nested pipeline or stage dict of ``create_workflow`` / ``add_pipeline`` may carry;
# anything else is an error rather than silently dropped.
PIPELINE_SPEC_KEYS = {
    "name_en",
    "name_ar",
    "order",
    "department",
    "department_id",
    "number_of_stages",
    "stages",
    "actions",
}
# Marks an argument that was not given (None is a real value: "remove the condition").
UNCHANGED: Any = object()

STAGE_SPEC_KEYS = {
    "name_en",
    "name_ar",
    "order",
    "color",
    "approvals",
    "stage_info",
    "actions",
    "condition",
}
STAGE_INFO_KEYS = {"color", "approvals"}


def _require_name(value: Any, field: str) -> str:
    name = (value or "").strip() if isinstance(value, str) else ""
    if not name:
        raise WorkflowValidationError(f"{field} is required.", field=field)
    if len(name) > 200:
        raise WorkflowValidationError(f"{field} is longer than 200 characters.", field=field)
    if "\x00" in name:
        raise WorkflowValidationError(f"{field} may not contain NUL characters.", field=field)
    return name


def _company_id(company: Any) -> int | None:
    if company is None:
        return None
    return company if isinstance(company, int) else company.pk


def _ensure_editable(workflow: Workflow) -> None:
    if workflow.is_hidden:
        raise InvalidStateError(
            "This workflow is the running copy of an attachment and cannot be edited; "
            "edit its template instead."
        )


def _ensure_structure_editable(workflow: Workflow) -> None:
    """Refuse to change the pipelines or stages of a template a live attachment runs directly.

    Such an attachment (attached with ``disable_clone``) runs the template's own stages: a
    stage removed or reordered under it would be skipped or leave it without a current stage.
    """
    _ensure_editable(workflow)
    if workflow.attachments.filter(status__in=LIVE_STATUSES).exists():
        raise InvalidStateError(
            "A live attachment runs this workflow directly; its pipelines and stages cannot "
            "change until that attachment ends."
        )


def _resolve_department(department: Any, department_id: Any, company_id: int | None, field: str):
    """Return ``(content_type, id)`` for a department given as an object or an id."""
    if department is None and department_id in (None, ""):
        return None, ""
    model = department_model()
    if model is None:
        raise WorkflowValidationError(
            "DJANGO_WORKFLOW_ENGINE['DEPARTMENT_MODEL'] is not configured.", field=field
        )
    instance: Model | None
    if department is not None:
        if not isinstance(department, model):
            raise WorkflowValidationError(
                f"department must be a {model._meta.label} instance.", field=field
            )
        instance = department
    else:
        try:
            instance = model._default_manager.filter(pk=department_id).first()
        except (TypeError, ValueError):  # not a key of the department model
            instance = None
        if instance is None:
            raise WorkflowValidationError(
                f"Department {department_id} does not exist.", field=field
            )
    owner = getattr(instance, "company_id", None)
    if company_id is not None and owner is not None and owner != company_id:
        raise WorkflowValidationError(
            f"Department {instance.pk} does not belong to this company.", field=field
        )
    return ContentType.objects.get_for_model(model), str(instance.pk)


def _check_keys(data: Any, allowed: set[str], what: str, field: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WorkflowValidationError(f"Each {what} must be an object.", field=field)
    unknown = set(data) - allowed
    if unknown:
        raise WorkflowValidationError(
            f"Unknown {what} keys: {', '.join(sorted(unknown))}.", field=field
        )
    return data


def merge_stage_info(stage_info: Any, *, color: Any, approvals: Any, field: str) -> tuple[Any, Any]:
    """Map the seed's ``stage_info`` (``{"color", "approvals"}``) onto ``(color, approvals)``.

    Unknown keys, or a value given both in ``stage_info`` and directly, are errors.
    """
    if stage_info is None:
        return color, approvals
    _check_keys(stage_info, STAGE_INFO_KEYS, "stage_info", field)
    if "color" in stage_info and color is not None:
        raise WorkflowValidationError(
            "Give color either in stage_info or directly, not both.", field=field
        )
    if "approvals" in stage_info and approvals is not None:
        raise WorkflowValidationError(
            "Give approvals either in stage_info or directly, not both.", field=field
        )
    return stage_info.get("color", color), stage_info.get("approvals", approvals)


def _stage_objects(
    pipeline: Pipeline,
    *,
    stages: Iterable[dict[str, Any]] | None,
    number_of_stages: int | None,
    company_id: int | None,
    field: str,
    first_order: int = 1,
    actions: list[tuple[Stage, list[WorkflowAction]]] | None = None,
) -> list[Stage]:
    built: list[Stage] = []
    if stages is not None:
        stages = list(stages)
        if len(stages) > MAX_STAGES_PER_PIPELINE:
            raise WorkflowValidationError(
                f"A pipeline may have at most {MAX_STAGES_PER_PIPELINE} stages.", field=field
            )
        for index, data in enumerate(stages):
            where = f"{field}[{index}]"
            _check_keys(data, STAGE_SPEC_KEYS, "stage", where)
            color, approvals = merge_stage_info(
                data.get("stage_info"),
                color=data.get("color"),
                approvals=data.get("approvals"),
                field=f"{where}.stageInfo",
            )
            check_color(color, f"{where}.color")
            stage = Stage(
                pipeline=pipeline,
                name_en=_require_name(data.get("name_en"), f"{where}.name_en"),
                name_ar=data.get("name_ar") or "",
                color=color or DEFAULT_STAGE_COLOR,
                order=data.get("order") or first_order + index,
                approvals=validate_approvals(
                    approvals,
                    company_id=company_id,
                    field_prefix=f"{where}.approvals",
                ),
                condition=validate_condition(data.get("condition"), field=f"{where}.condition"),
            )
            built.append(stage)
            if data.get("actions") is not None:
                if actions is None:
                    raise WorkflowValidationError(
                        "Actions cannot be given here.", field=f"{where}.actions"
                    )
                actions.append((stage, build_actions(data["actions"], field=f"{where}.actions")))
        return built
    count = number_of_stages or 0
    if not isinstance(count, int) or count < 0 or count > MAX_STAGES_PER_PIPELINE:
        raise WorkflowValidationError(
            f"number_of_stages must be between 0 and {MAX_STAGES_PER_PIPELINE}.", field=field
        )
    for index in range(count):
        number = first_order + index
        built.append(
            Stage(
                pipeline=pipeline,
                name_en=f"Stage {number}",
                name_ar=f"المرحلة {number}",
                color=DEFAULT_STAGE_COLOR,
                order=number,
                approvals=[],
            )
        )
    return built


def _build_pipelines(
    workflow: Workflow, pipelines: Iterable[dict[str, Any]], *, first_order: int = 1
) -> list[Pipeline]:
    company_id = workflow.company_id
    pipelines = list(pipelines)
    if len(pipelines) > MAX_PIPELINES_PER_WORKFLOW:
        raise WorkflowValidationError(
            f"A workflow may have at most {MAX_PIPELINES_PER_WORKFLOW} pipelines.",
            field="pipelines",
        )
    new_pipelines: list[Pipeline] = []
    stage_specs: list[tuple[int, dict[str, Any]]] = []
    pipeline_actions: list[tuple[Pipeline, list[WorkflowAction]]] = []
    stage_actions: list[tuple[Stage, list[WorkflowAction]]] = []
    for index, data in enumerate(pipelines):
        where = f"pipelines[{index}]"
        _check_keys(data, PIPELINE_SPEC_KEYS, "pipeline", where)
        if data.get("stages") is not None and data.get("number_of_stages"):
            raise WorkflowValidationError(
                "Give either stages or number_of_stages, not both.", field=where
            )
        content_type, department_id = _resolve_department(
            data.get("department"), data.get("department_id"), company_id, f"{where}.department_id"
        )
        new_pipelines.append(
            Pipeline(
                workflow=workflow,
                name_en=_require_name(data.get("name_en"), f"{where}.name_en"),
                name_ar=data.get("name_ar") or "",
                order=data.get("order") or first_order + index,
                department_content_type=content_type,
                department_id=department_id,
            )
        )
        if data.get("actions") is not None:
            pipeline_actions.append(
                (new_pipelines[-1], build_actions(data["actions"], field=f"{where}.actions"))
            )
        stage_specs.append((index, data))
    # Validate every stage before writing anything, then insert in two bulk queries.
    pending_stages: list[tuple[int, list[Stage]]] = []
    for index, data in stage_specs:
        pending_stages.append(
            (
                index,
                _stage_objects(
                    new_pipelines[index],
                    stages=data.get("stages"),
                    number_of_stages=data.get("number_of_stages"),
                    company_id=company_id,
                    field=f"pipelines[{index}].stages",
                    actions=stage_actions,
                ),
            )
        )
    for index, pipeline in enumerate(new_pipelines):
        check_columns(pipeline, f"pipelines[{index}].")
        for position, stage in enumerate(pending_stages[index][1]):
            check_columns(stage, f"pipelines[{index}].stages[{position}].")
    Pipeline.objects.bulk_create(new_pipelines)
    all_stages: list[Stage] = []
    for index, stages in pending_stages:
        for stage in stages:
            stage.pipeline = new_pipelines[index]
        all_stages.extend(stages)
    Stage.objects.bulk_create(all_stages)
    new_actions: list[WorkflowAction] = []
    for pipeline, built in pipeline_actions:
        for action in built:
            action.pipeline = pipeline
        new_actions.extend(built)
    for stage, built in stage_actions:
        for action in built:
            action.stage = stage
        new_actions.extend(built)
    if new_actions:
        WorkflowAction.objects.bulk_create(new_actions)
    return new_pipelines


def clean_workflow_status(value: Any) -> str:
    """Return a valid workflow status or raise ``WorkflowValidationError``."""
    if value not in WorkflowStatus.values:
        raise WorkflowValidationError(
            f"status must be one of {', '.join(WorkflowStatus.values)}.", field="status"
        )
    return str(value)


def _initial_status(status: Any, is_active: bool | None) -> str:
    if status is not None:
        status = clean_workflow_status(status)
        if is_active is not None and is_active != (status == WorkflowStatus.ACTIVE):
            raise WorkflowValidationError(
                "is_active contradicts status; give status only.", field="isActive"
            )
        return status
    if is_active is None or is_active:
        return WorkflowStatus.ACTIVE
    return WorkflowStatus.DRAFT


@transaction.atomic
def create_workflow(
    *,
    company: Any,
    name_en: str,
    name_ar: str = "",
    created_by: Any = None,
    description: str = "",
    status: str | None = None,
    is_active: bool | None = None,
    slug: str = "",
    pipelines: Iterable[dict[str, Any]] | None = None,
    actions: Iterable[dict[str, Any]] | None = None,
) -> Workflow:
    """Create a workflow template with its pipelines, stages and actions in one transaction.

    ``status`` is ``active`` (the default), ``draft`` or ``archived``; ``is_active`` is the
    seed's alias (``False`` makes a draft). ``actions`` may be given here and in each pipeline
    and stage dict, with the keys of ``create_workflow_action``; every path passes the same
    allow-list, and nothing is written unless everything is valid.
    """
    built_actions = build_actions(actions, field="actions") if actions is not None else []
    workflow = Workflow(
        company_id=_company_id(company),
        name_en=_require_name(name_en, "name_en"),
        name_ar=name_ar or "",
        description=description or "",
        status=_initial_status(status, is_active),
        slug=slug or "",
        created_by=created_by,
    )
    check_columns(workflow)
    workflow.save()
    if pipelines:
        _build_pipelines(workflow, pipelines)
    if built_actions:
        for action in built_actions:
            action.workflow = workflow
        WorkflowAction.objects.bulk_create(built_actions)
    return workflow


@transaction.atomic
def update_workflow(
    *, workflow: Workflow, actions: list[dict[str, Any]] | None = None, **fields: Any
) -> Workflow:
    """Change a template's names, description, slug or status (``is_active`` is its alias).

    ``actions`` replaces the workflow-level actions (those of pipelines and stages stay).
    """
    _ensure_editable(workflow)
    unknown = set(fields) - set(WORKFLOW_FIELDS)
    if unknown:
        raise WorkflowValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    status, is_active = fields.pop("status", None), fields.pop("is_active", None)
    if status is not None:
        workflow.status = _initial_status(status, is_active)
    elif is_active is not None and is_active != workflow.is_active:
        # The seed's flag: switching an active workflow off archives it, on activates it.
        workflow.status = WorkflowStatus.ACTIVE if is_active else WorkflowStatus.ARCHIVED
    for name, value in fields.items():
        if value is None:
            continue
        if name == "name_en":
            value = _require_name(value, "name_en")
        setattr(workflow, name, value)
    check_columns(workflow)
    workflow.save()
    if actions is not None:
        replace_actions(workflow=workflow, actions=actions)
    return workflow


@transaction.atomic
def delete_workflow(*, workflow: Workflow) -> None:
    """Delete a template that no attachment runs directly."""
    _ensure_editable(workflow)
    if workflow.attachments.exists():
        raise InvalidStateError("Attachments run this workflow directly; it cannot be deleted.")
    workflow.delete()


def clone_structure(
    template: Workflow,
    *,
    hidden: bool,
    created_by: Any = None,
    name_en: str | None = None,
    name_ar: str | None = None,
) -> tuple[Workflow, list[Stage]]:
    """Deep-copy a workflow (pipelines, stages, approvals, actions); return it and its ordered stages.

    Costs at most seven queries whatever the size: three reads and four bulk inserts.
    """
    pipelines = list(template.pipelines.all())
    stages = list(Stage.objects.filter(pipeline__workflow_id=template.pk))
    clone = Workflow.objects.create(
        company_id=template.company_id,
        name_en=name_en or f"{template.name_en} (Copy)",
        name_ar=name_ar
        if name_ar is not None
        else (f"{template.name_ar} (نسخة)" if template.name_ar else ""),
        slug="" if hidden else template.slug,
        description=template.description,
        status=template.status,
        is_hidden=hidden,
        cloned_from=template,
        created_by=created_by,
    )
    copies = {
        pipeline.pk: Pipeline(
            workflow=clone,
            name_en=pipeline.name_en,
            name_ar=pipeline.name_ar,
            order=pipeline.order,
            department_content_type_id=pipeline.department_content_type_id,
            department_id=pipeline.department_id,
            cloned_from=pipeline,
        )
        for pipeline in pipelines
    }
    Pipeline.objects.bulk_create(list(copies.values()))
    stage_copies = [
        Stage(
            pipeline=copies[stage.pipeline_id],
            name_en=stage.name_en,
            name_ar=stage.name_ar,
            order=stage.order,
            color=stage.color,
            approvals=list(stage.approvals or []),
            condition=stage.condition,
            cloned_from=stage,
        )
        for stage in stages
    ]
    Stage.objects.bulk_create(stage_copies)
    stage_map = dict(zip((stage.pk for stage in stages), stage_copies, strict=True))
    _clone_actions(template, clone, copies, stage_map)
    return clone, sort_stages(stage_copies)


def _clone_actions(
    template: Workflow, clone: Workflow, pipelines: dict[int, Pipeline], stages: dict[int, Stage]
) -> None:
    """Copy the template's actions at every level onto the copy (one read, one bulk insert)."""
    actions = WorkflowAction.objects.filter(
        Q(workflow=template)
        | Q(pipeline__workflow=template)
        | Q(stage__pipeline__workflow=template)
    )
    WorkflowAction.objects.bulk_create(
        [
            WorkflowAction(
                workflow=clone if action.workflow_id else None,
                pipeline=pipelines[action.pipeline_id] if action.pipeline_id else None,
                stage=stages[action.stage_id] if action.stage_id else None,
                action_type=action.action_type,
                function_path=action.function_path,
                parameters=action.parameters,
                order=action.order,
                is_active=action.is_active,
                failure_policy=action.failure_policy,
                handler_convention=action.handler_convention,
            )
            for action in actions
        ]
    )


@transaction.atomic
def clone_workflow(
    *,
    workflow: Workflow,
    created_by: Any = None,
    name_en: str | None = None,
    name_ar: str | None = None,
) -> Workflow:
    """Copy a template into a new, independent template (``cloned_from`` points back)."""
    clone, _ = clone_structure(
        workflow, hidden=False, created_by=created_by, name_en=name_en, name_ar=name_ar
    )
    return clone


@transaction.atomic
def add_pipeline(
    *,
    workflow: Workflow,
    name_en: str,
    name_ar: str = "",
    department: Any = None,
    department_id: Any = None,
    order: int | None = None,
    number_of_stages: int | None = None,
    stages: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
) -> Pipeline:
    """Add a pipeline (placed last unless ``order`` is given) with optional stages and actions."""
    _ensure_structure_editable(workflow)
    if order is None:
        order = (workflow.pipelines.aggregate(m=Max("order"))["m"] or 0) + 1
    (pipeline,) = _build_pipelines(
        workflow,
        [
            {
                "name_en": name_en,
                "name_ar": name_ar,
                "department": department,
                "department_id": department_id,
                "order": order,
                "number_of_stages": number_of_stages,
                "stages": stages,
                "actions": actions,
            }
        ],
    )
    return pipeline


@transaction.atomic
def update_pipeline(
    *,
    pipeline: Pipeline,
    department: Any = None,
    department_id: Any = None,
    clear_department: bool = False,
    actions: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Pipeline:
    """Change a pipeline's names, order or department; ``actions`` replaces its own actions."""
    _ensure_structure_editable(pipeline.workflow)
    unknown = set(fields) - set(PIPELINE_FIELDS)
    if unknown:
        raise WorkflowValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        if value is None:
            continue
        if name == "name_en":
            value = _require_name(value, "name_en")
        setattr(pipeline, name, value)
    if clear_department:
        pipeline.department_content_type, pipeline.department_id = None, ""
    elif department is not None or department_id not in (None, ""):
        pipeline.department_content_type, pipeline.department_id = _resolve_department(
            department, department_id, pipeline.workflow.company_id, "department_id"
        )
    check_columns(pipeline)
    pipeline.save()
    if actions is not None:
        replace_actions(pipeline=pipeline, actions=actions)
    return pipeline


@transaction.atomic
def remove_pipeline(*, pipeline: Pipeline) -> None:
    """Delete a pipeline and its stages from a template."""
    _ensure_structure_editable(pipeline.workflow)
    pipeline.delete()


@transaction.atomic
def add_stage(
    *,
    pipeline: Pipeline,
    name_en: str,
    name_ar: str = "",
    color: str | None = None,
    approvals: list[dict[str, Any]] | None = None,
    order: int | None = None,
    stage_info: dict[str, Any] | None = None,
    actions: list[dict[str, Any]] | None = None,
    condition: dict[str, Any] | None = None,
) -> Stage:
    """Add a stage to a pipeline (placed last unless ``order`` is given).

    ``stage_info`` is the seed's ``{"color", "approvals"}``; ``actions`` as in ``create_workflow``.
    """
    _ensure_structure_editable(pipeline.workflow)
    color, approvals = merge_stage_info(
        stage_info, color=color, approvals=approvals, field="stageInfo"
    )
    built_actions = build_actions(actions, field="actions") if actions is not None else []
    if pipeline.stages.count() >= MAX_STAGES_PER_PIPELINE:
        raise WorkflowValidationError(
            f"A pipeline may have at most {MAX_STAGES_PER_PIPELINE} stages.", field="pipelineId"
        )
    if order is None:
        order = (pipeline.stages.aggregate(m=Max("order"))["m"] or 0) + 1
    stage = Stage(
        pipeline=pipeline,
        name_en=_require_name(name_en, "name_en"),
        name_ar=name_ar or "",
        color=color or DEFAULT_STAGE_COLOR,
        order=order,
        approvals=validate_approvals(approvals, company_id=pipeline.workflow.company_id),
        condition=validate_condition(condition),
    )
    check_color(color, "color")
    check_columns(stage)
    stage.save()
    if built_actions:
        for action in built_actions:
            action.stage = stage
        WorkflowAction.objects.bulk_create(built_actions)
    return stage


@transaction.atomic
def update_stage(
    *,
    stage: Stage,
    approvals: list[dict[str, Any]] | None = None,
    stage_info: dict[str, Any] | None = None,
    actions: list[dict[str, Any]] | None = None,
    condition: Any = UNCHANGED,
    **fields: Any,
) -> Stage:
    """Change a stage's names, colour, order or approvals (validated before saving).

    ``stage_info`` is the seed's ``{"color", "approvals"}``, mapped onto the same fields;
    ``actions`` replaces the stage's own actions.
    """
    _ensure_structure_editable(stage.pipeline.workflow)
    color, approvals = merge_stage_info(
        stage_info, color=fields.get("color"), approvals=approvals, field="stageInfo"
    )
    if color is not None:
        fields["color"] = color
    unknown = set(fields) - set(STAGE_FIELDS)
    if unknown:
        raise WorkflowValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        if value is None:
            continue
        if name == "name_en":
            value = _require_name(value, "name_en")
        setattr(stage, name, value)
    if approvals is not None:
        stage.approvals = validate_approvals(
            approvals, company_id=stage.pipeline.workflow.company_id
        )
    if condition is not UNCHANGED:  # None removes the condition
        stage.condition = validate_condition(condition)
    check_color(fields.get("color"), "color")
    check_columns(stage)
    stage.save()
    if actions is not None:
        replace_actions(stage=stage, actions=actions)
    return stage


@transaction.atomic
def remove_stage(*, stage: Stage) -> None:
    """Delete a stage from a template."""
    _ensure_structure_editable(stage.pipeline.workflow)
    stage.delete()


@transaction.atomic
def reorder_stages(*, pipeline: Pipeline, stage_ids: list[Any]) -> list[Stage]:
    """Set the order of a pipeline's stages to the order of ``stage_ids`` (every stage, once)."""
    _ensure_structure_editable(pipeline.workflow)
    stages = {stage.pk: stage for stage in pipeline.stages.all()}
    wanted = [parse_id(stage_id, "stageIds", what="Stage") for stage_id in stage_ids]
    if sorted(wanted) != sorted(stages) or len(set(wanted)) != len(wanted):
        unknown = set(wanted) - set(stages)
        if unknown:
            raise NotFoundError(
                f"Stage {sorted(unknown)[0]} is not part of this pipeline.", field="stageIds"
            )
        raise WorkflowValidationError(
            "stage_ids must list every stage of the pipeline exactly once.", field="stageIds"
        )
    for position, stage_id in enumerate(wanted, start=1):
        stages[stage_id].order = position
    Stage.objects.bulk_update(stages.values(), ["order"])
    return [stages[stage_id] for stage_id in wanted]


def set_pipeline_department(*, pipeline: Pipeline, department: Any) -> Pipeline:
    """Point a pipeline at a department (``None`` clears it)."""
    if department is None:
        return update_pipeline(pipeline=pipeline, clear_department=True)
    return update_pipeline(pipeline=pipeline, department=department)
