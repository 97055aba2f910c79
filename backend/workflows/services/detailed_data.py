"""The seed's detailed-data reads: workflow details, structure, approval summary, statistics.

The dicts have the exact keys of django-dynamic-workflows' ``get_detailed_workflow_data``,
``get_workflow_pipeline_structure``, ``get_workflow_approval_summary`` and
``get_workflow_statistics``, so code written against the seed ports unchanged. What differs:

- Run copies (``is_hidden``, made when a workflow is attached) are never listed or counted.
  Asked for by id they are still found, so the copy an attachment runs on can be inspected.
- Counts are computed by the database: a list or the statistics cost one query whatever the
  number of workflows; one workflow costs three (workflow, pipelines, stages) plus one per
  department model its pipelines point at, never one per pipeline.
- ``company`` is the company account's username (as in the seed, and the key of
  ``by_company``); ``company_name`` is its display name: ``first_name`` when set, else the
  username.
- ``company_id`` also scopes the one-workflow reads: a workflow of another company is None.
- A stage's ``is_active`` is False when the attachment running the workflow skipped it (its
  ``condition`` was false when it would have opened); templates' stages, and a running copy's
  stages not skipped (yet), are active. Only a running copy costs the one query more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Func, IntegerField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from backend.workflows.constants import ApprovalType, RoleSelectionStrategy
from backend.workflows.models import Pipeline, Stage, Workflow

# Approval types the seed counts. Only ``user`` and ``role`` can be configured here; the others
# stay in the dicts (always 0) so that code reading ``by_type["self-approved"]`` keeps working.
SELF_APPROVED = "self-approved"
ASSIGNED = "assigned"
COUNTED_APPROVAL_TYPES = (ApprovalType.ROLE.value, ApprovalType.USER.value, SELF_APPROVED, ASSIGNED)
COUNTED_STRATEGIES = tuple(RoleSelectionStrategy.values)

APPROVAL_TYPE_DISPLAY = {
    ApprovalType.ROLE.value: "Role-based Approval",
    ApprovalType.USER.value: "User-specific Approval",
    SELF_APPROVED: "Self Approval",
}
STRATEGY_DISPLAY = {
    RoleSelectionStrategy.ANYONE.value: "Any user with role can approve",
    RoleSelectionStrategy.CONSENSUS.value: "All users with role must approve",
    RoleSelectionStrategy.ROUND_ROBIN.value: "Rotate approval among role users",
    RoleSelectionStrategy.QUORUM.value: "A set number of users with role must approve",
    RoleSelectionStrategy.MAJORITY.value: "More than half of the users with role must approve",
    RoleSelectionStrategy.PERCENTAGE.value: "A set share of the users with role must approve",
}
DEFAULT_STAGE_COLOR = "#3498db"
NO_COMPANY = "No Company"

_WORKFLOW_FIELDS = (
    "id",
    "is_hidden",
    "name_en",
    "name_ar",
    "is_active",
    "description",
    "created_at",
    "modified_at",
)
_PIPELINE_FIELDS = (
    "id",
    "workflow_id",
    "name_en",
    "name_ar",
    "order",
    "department_content_type_id",
    "department_id",
    "created_at",
    "modified_at",
)
_STAGE_FIELDS = (
    "id",
    "pipeline_id",
    "name_en",
    "name_ar",
    "order",
    "color",
    "approvals",
    "created_at",
    "modified_at",
)


class JSONArrayLength(Func):
    """The length of a JSON array column; 0 for anything that is not an array."""

    function = "JSON_ARRAY_LENGTH"  # SQLite
    output_field = IntegerField()
    arity = 1

    def as_mysql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(compiler, connection, function="JSON_LENGTH", **extra_context)

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        # jsonb_array_length raises on scalars and objects, so only arrays reach it.
        return (
            f"CASE WHEN jsonb_typeof({sql}) = 'array' THEN jsonb_array_length({sql}) ELSE 0 END",
            (*params, *params),
        )


# --------------------------------------------------------------------------- queries


def _as_pk(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _workflows(company_id: int | None, *, include_hidden: bool = False) -> QuerySet[Workflow]:
    queryset = Workflow.objects.all()
    if not include_hidden:
        queryset = queryset.filter(is_hidden=False)
    if company_id is not None:
        queryset = queryset.filter(company_id=company_id)
    return queryset


def _templates(company_id: int | None, include_inactive: bool) -> QuerySet[Workflow]:
    queryset = _workflows(company_id)
    return queryset if include_inactive else queryset.filter(is_active=True)


def _company_columns() -> dict[str, F]:
    return {
        "company_username": F("company__username"),
        "company_first_name": F("company__first_name"),
    }


def _workflow_row(
    workflow_id: Any, company_id: int | None, *, include_inactive: bool = True
) -> dict[str, Any] | None:
    """Return one workflow (template or run copy) as a dict, or None (one query)."""
    pk = _as_pk(workflow_id)
    if pk is None:
        return None
    queryset = _workflows(company_id, include_hidden=True).filter(pk=pk)
    if not include_inactive:
        queryset = queryset.filter(is_active=True)
    return queryset.values(*_WORKFLOW_FIELDS, **_company_columns()).first()


def _skipped_stage_ids(row: dict[str, Any]) -> set[int]:
    """Return the stages the attachments running this workflow skipped (run copies only)."""
    from backend.workflows.models import WorkflowAttachment

    if not row.get("is_hidden"):
        return set()
    skipped: set[int] = set()
    for stage_ids in WorkflowAttachment.objects.filter(workflow_id=row["id"]).values_list(
        "skipped_stage_ids", flat=True
    ):
        skipped.update(stage_id for stage_id in stage_ids or () if isinstance(stage_id, int))
    return skipped


def _summary_rows(queryset: QuerySet[Workflow]) -> list[dict[str, Any]]:
    """Return workflows newest first with their pipeline, stage and approval counts (one query).

    Pipelines and stages are joined (each stage row appears once, since the structure is a
    tree), so the counts come from one GROUP BY instead of loading the structure.
    """
    return list(
        queryset.order_by("-id")
        .values(*_WORKFLOW_FIELDS, **_company_columns())
        .annotate(
            pipelines_count=Count("pipelines", distinct=True),
            total_stages_count=Count("pipelines__stages"),
            approvals_count=Coalesce(Sum(JSONArrayLength("pipelines__stages__approvals")), 0),
        )
    )


def _company_statistics_rows(queryset: QuerySet[Workflow]) -> list[dict[str, Any]]:
    """Return per-company workflow, pipeline, stage and approval counts (one query)."""
    rows = (
        queryset.order_by()
        .values(company_username=F("company__username"))
        .annotate(
            workflows_count=Count("id", distinct=True),
            active_count=Count("id", distinct=True, filter=Q(is_active=True)),
            pipelines_count=Count("pipelines", distinct=True),
            stages_count=Count("pipelines__stages"),
            approvals_count=Coalesce(Sum(JSONArrayLength("pipelines__stages__approvals")), 0),
        )
        .order_by("company_username")
    )
    return [dict(row) for row in rows]


def _structure(workflow_id: int) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Return ``[(pipeline, [stage, ...]), ...]`` in running order (two queries)."""
    pipelines = list(
        Pipeline.objects.filter(workflow_id=workflow_id)
        .order_by("order", "id")
        .values(*_PIPELINE_FIELDS)
    )
    stages_by_pipeline: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if pipelines:
        for stage in (
            Stage.objects.filter(pipeline__workflow_id=workflow_id)
            .order_by("order", "id")
            .values(*_STAGE_FIELDS)
        ):
            stages_by_pipeline[stage["pipeline_id"]].append(stage)
    return [(pipeline, stages_by_pipeline[pipeline["id"]]) for pipeline in pipelines]


def _department_names(pipelines: Iterable[dict[str, Any]]) -> dict[tuple[int, str], str]:
    """Return ``{(content_type_id, department_id): name}``, one query per department model."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for pipeline in pipelines:
        if pipeline["department_content_type_id"] and pipeline["department_id"]:
            wanted[pipeline["department_content_type_id"]].add(str(pipeline["department_id"]))
    names: dict[tuple[int, str], str] = {}
    for content_type_id, raw_ids in wanted.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        ids = []
        for raw_id in raw_ids:
            try:
                ids.append(model._meta.pk.to_python(raw_id))
            except ValidationError:
                continue
        for pk, department in model._default_manager.in_bulk(ids).items():
            names[(content_type_id, str(pk))] = str(department)
    return names


def _department_name(pipeline: dict[str, Any], names: dict[tuple[int, str], str]) -> str | None:
    key = (pipeline["department_content_type_id"], str(pipeline["department_id"]))
    return names.get(key)


# --------------------------------------------------------------------------- dict builders


def _approvals(stage: dict[str, Any]) -> list[dict[str, Any]]:
    approvals = stage["approvals"]
    return [a for a in approvals if isinstance(a, dict)] if isinstance(approvals, list) else []


def _has_forms(approvals: list[dict[str, Any]]) -> bool:
    return any(approval.get("required_form") for approval in approvals)


def _counted(keys: Iterable[str], values: Iterable[Any]) -> dict[str, int]:
    counts = dict.fromkeys(keys, 0)
    for value in values:
        if value in counts:
            counts[value] += 1
    return counts


def _company(row: dict[str, Any]) -> tuple[str | None, str | None]:
    username = row["company_username"]
    if username is None:
        return None, None
    return username, row["company_first_name"] or username


def _workflow_header(row: dict[str, Any]) -> dict[str, Any]:
    company, company_name = _company(row)
    return {
        "id": row["id"],
        "name_en": row["name_en"],
        "name_ar": row["name_ar"],
        "company": company,
        "company_name": company_name,
        "is_active": row["is_active"],
        "description": row["description"],
    }


def _enriched(approval: dict[str, Any]) -> dict[str, Any]:
    approval_type = approval.get("approval_type", "")
    strategy = approval.get("role_selection_strategy", "")
    return {
        **approval,
        "approval_type_display": APPROVAL_TYPE_DISPLAY.get(approval_type, approval_type),
        "strategy_display": STRATEGY_DISPLAY.get(strategy, strategy),
    }


def _detailed_stage(stage: dict[str, Any], skipped: set[int]) -> dict[str, Any]:
    approvals = _approvals(stage)
    color = stage["color"] or DEFAULT_STAGE_COLOR
    return {
        "id": stage["id"],
        "name_en": stage["name_en"],
        "name_ar": stage["name_ar"],
        "order": stage["order"],
        "is_active": stage["id"] not in skipped,
        "stage_info": {"color": color, "approvals": approvals},
        "approvals_count": len(approvals),
        "has_approvals": bool(approvals),
        "approval_configuration": {
            "approvals": [_enriched(approval) for approval in approvals],
            "color": color,
            "total_approvals": len(approvals),
        },
        "created_at": stage["created_at"],
        "modified_at": stage["modified_at"],
    }


def _detailed_workflow(row: dict[str, Any]) -> dict[str, Any]:
    structure = _structure(row["id"])
    departments = _department_names(pipeline for pipeline, _ in structure)
    skipped = _skipped_stage_ids(row)
    pipelines = []
    breakdown = []
    total_stages = total_approvals = 0
    for pipeline, stages in structure:
        stage_dicts = [_detailed_stage(stage, skipped) for stage in stages]
        approvals = sum(stage["approvals_count"] for stage in stage_dicts)
        department = _department_name(pipeline, departments)
        pipelines.append(
            {
                "id": pipeline["id"],
                "name_en": pipeline["name_en"],
                "name_ar": pipeline["name_ar"],
                "order": pipeline["order"],
                "department": department,
                "department_name": department,
                "stages": stage_dicts,
                "stages_count": len(stage_dicts),
                "created_at": pipeline["created_at"],
                "modified_at": pipeline["modified_at"],
            }
        )
        breakdown.append(
            {
                "pipeline_name": pipeline["name_en"],
                "pipeline_order": pipeline["order"],
                "stages_count": len(stage_dicts),
                "approvals_count": approvals,
            }
        )
        total_stages += len(stage_dicts)
        total_approvals += approvals
    return {
        **_workflow_header(row),
        "pipelines": pipelines,
        "pipelines_count": len(pipelines),
        "total_stages_count": total_stages,
        "workflow_summary": {
            "total_pipelines": len(pipelines),
            "total_stages": total_stages,
            "total_approvals": total_approvals,
            "pipeline_breakdown": breakdown,
        },
        "created_at": row["created_at"],
        "modified_at": row["modified_at"],
    }


def _summary_workflow(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **_workflow_header(row),
        "pipelines_count": row["pipelines_count"],
        "total_stages_count": row["total_stages_count"],
        "created_at": row["created_at"],
        "modified_at": row["modified_at"],
    }


def _statistics(groups: Iterable[tuple[str | None, int, int, int, int, int]]) -> dict[str, Any]:
    """Fold ``(company, workflows, active, pipelines, stages, approvals)`` tuples into the seed's shape."""
    by_company: dict[str, dict[str, int]] = {}
    total_workflows = active_workflows = total_pipelines = total_stages = total_approvals = 0
    for company, workflows, active, pipelines, stages, approvals in groups:
        entry = by_company.setdefault(
            company if company is not None else NO_COMPANY,
            {"workflows": 0, "pipelines": 0, "stages": 0, "approvals": 0},
        )
        entry["workflows"] += workflows
        entry["pipelines"] += pipelines
        entry["stages"] += stages
        entry["approvals"] += approvals
        total_workflows += workflows
        active_workflows += active
        total_pipelines += pipelines
        total_stages += stages
        total_approvals += approvals

    def average(total: int) -> float | int:
        return round(total / total_workflows, 2) if total_workflows else 0

    return {
        "overview": {
            "total_workflows": total_workflows,
            "active_workflows": active_workflows,
            "inactive_workflows": total_workflows - active_workflows,
            "total_pipelines": total_pipelines,
            "total_stages": total_stages,
            "total_approvals": total_approvals,
            "avg_pipelines_per_workflow": average(total_pipelines),
            "avg_stages_per_workflow": average(total_stages),
        },
        "by_company": by_company,
    }


# --------------------------------------------------------------------------- public API


def get_detailed_workflow_data(
    workflow_id: Any = None, company_id: int | None = None, include_inactive: bool = False
) -> dict[str, Any] | None:
    """Return one workflow in full detail, or the list of templates with their statistics.

    With ``workflow_id``: the workflow's dict, or None when it does not exist, is inactive
    (unless ``include_inactive``) or belongs to another company than ``company_id``; three
    queries plus one per department model. Without: ``{workflows, total_count, statistics}``
    for the active (or all) templates of ``company_id`` (every company when None); one query.
    """
    if workflow_id is not None:
        row = _workflow_row(workflow_id, company_id, include_inactive=include_inactive)
        return _detailed_workflow(row) if row is not None else None
    rows = _summary_rows(_templates(company_id, include_inactive))
    return {
        "workflows": [_summary_workflow(row) for row in rows],
        "total_count": len(rows),
        "statistics": _statistics(
            (
                row["company_username"],
                1,
                1 if row["is_active"] else 0,
                row["pipelines_count"],
                row["total_stages_count"],
                row["approvals_count"],
            )
            for row in rows
        ),
    }


def get_workflow_pipeline_structure(
    workflow_id: Any, company_id: int | None = None
) -> dict[str, Any] | None:
    """Return the pipelines and stages of a workflow for drawing it, or None if not found."""
    row = _workflow_row(workflow_id, company_id)
    if row is None:
        return None
    structure = _structure(row["id"])
    departments = _department_names(pipeline for pipeline, _ in structure)
    skipped = _skipped_stage_ids(row)
    pipelines = []
    total_stages = 0
    for pipeline, stages in structure:
        stage_dicts = []
        for stage in stages:
            approvals = _approvals(stage)
            stage_dicts.append(
                {
                    "id": stage["id"],
                    "name_en": stage["name_en"],
                    "name_ar": stage["name_ar"],
                    "order": stage["order"],
                    "is_active": stage["id"] not in skipped,
                    "approvals_count": len(approvals),
                    "approval_types": _counted(
                        COUNTED_APPROVAL_TYPES, (a.get("approval_type") for a in approvals)
                    ),
                    "color": stage["color"] or DEFAULT_STAGE_COLOR,
                    "has_forms": _has_forms(approvals),
                }
            )
        total_stages += len(stage_dicts)
        pipelines.append(
            {
                "id": pipeline["id"],
                "name_en": pipeline["name_en"],
                "name_ar": pipeline["name_ar"],
                "order": pipeline["order"],
                "department": _department_name(pipeline, departments),
                "stages": stage_dicts,
                "stages_count": len(stage_dicts),
            }
        )
    return {
        "workflow_id": row["id"],
        "workflow_name": row["name_en"],
        "pipelines": pipelines,
        "total_pipelines": len(pipelines),
        "total_stages": total_stages,
    }


def get_workflow_approval_summary(
    workflow_id: Any, company_id: int | None = None
) -> dict[str, Any] | None:
    """Return a workflow's approvals counted by type, strategy and pipeline, or None if not found."""
    row = _workflow_row(workflow_id, company_id)
    if row is None:
        return None
    all_approvals: list[dict[str, Any]] = []
    stages_with_forms = 0
    breakdown = []
    for pipeline, stages in _structure(row["id"]):
        stage_dicts = []
        for stage in stages:
            approvals = _approvals(stage)
            has_forms = _has_forms(approvals)
            stages_with_forms += int(has_forms)
            all_approvals.extend(approvals)
            stage_dicts.append(
                {
                    "stage_name": stage["name_en"],
                    "stage_order": stage["order"],
                    "approvals_count": len(approvals),
                    "has_forms": has_forms,
                }
            )
        breakdown.append(
            {
                "pipeline_name": pipeline["name_en"],
                "pipeline_order": pipeline["order"],
                "stages": stage_dicts,
                "total_approvals": sum(stage["approvals_count"] for stage in stage_dicts),
            }
        )
    return {
        "total_approvals": len(all_approvals),
        "by_type": _counted(
            COUNTED_APPROVAL_TYPES, (a.get("approval_type") for a in all_approvals)
        ),
        "by_strategy": _counted(
            COUNTED_STRATEGIES, (a.get("role_selection_strategy") for a in all_approvals)
        ),
        "stages_with_forms": stages_with_forms,
        "pipeline_breakdown": breakdown,
    }


def get_workflow_statistics(company_id: int | None = None) -> dict[str, Any]:
    """Return template counts of one company (every company when None), active or not; one query."""
    return _statistics(
        (
            row["company_username"],
            row["workflows_count"],
            row["active_count"],
            row["pipelines_count"],
            row["stages_count"],
            row["approvals_count"],
        )
        for row in _company_statistics_rows(_workflows(company_id))
    )
