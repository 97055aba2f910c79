"""Reads: workflow structure, attachments, progress and pending approvals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import DateTimeField, F, Model, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from backend.precompiled import PrecompiledQuery
from backend.workflows import approvals
from backend.workflows.companies import get_company_id_for_user, object_creator
from backend.workflows.constants import LIVE_STATUSES, AttachmentStatus, WorkflowStatus
from backend.workflows.engine_settings import is_model_enabled, model_workflow_mapping
from backend.workflows.models import Stage, Workflow, WorkflowAttachment
from backend.workflows.transitions import open_actions


def ordered_stages_queryset(workflow_id: int) -> QuerySet[Stage]:
    """Return the query behind ``ordered_stages`` (for callers that annotate it)."""
    return (
        Stage.objects.filter(pipeline__workflow_id=workflow_id)
        .select_related("pipeline")
        .order_by("pipeline__order", "pipeline_id", "order", "id")
    )


# Read on every decision that moves or reports progress: compiled once per database.
_ordered_stages_statement = PrecompiledQuery(ordered_stages_queryset)


def ordered_stages(workflow_id: int) -> list[Stage]:
    """Return the stages of a workflow in running order, each with its pipeline loaded.

    Pipelines without stages contribute nothing, so they are skipped when a workflow runs.
    """
    return _ordered_stages_statement.fetch(workflow_id=workflow_id)


def sort_stages(stages: list[Stage]) -> list[Stage]:
    """Sort already-loaded stages (with pipelines) into running order."""
    return sorted(stages, key=lambda s: (s.pipeline.order, s.pipeline_id, s.order, s.pk or 0))


def stage_position(stages: list[Stage], stage_id: int | None) -> int | None:
    """Return the index of ``stage_id`` in ``stages``, or None."""
    if stage_id is None:
        return None
    for index, stage in enumerate(stages):
        if stage.pk == stage_id:
            return index
    return None


@dataclass(frozen=True)
class Progress:
    """How far an attachment has come: stages fully approved out of all stages."""

    completed_stages: int
    total_stages: int

    @property
    def percentage(self) -> float:
        if not self.total_stages:
            return 0.0
        return round(100.0 * self.completed_stages / self.total_stages, 2)


def applied_stages(attachment: WorkflowAttachment, stages: list[Stage]) -> list[Stage]:
    """Return ``stages`` without those the attachment skipped (their condition was false)."""
    skipped = set(attachment.skipped_stage_ids or ())
    return [stage for stage in stages if stage.pk not in skipped] if skipped else stages


def compute_progress(attachment: WorkflowAttachment, stages: list[Stage]) -> Progress:
    """Return the progress of ``attachment``: 0 % at start, 100 % only once completed.

    Only the stages that applied count: a stage skipped by its condition leaves the total.
    """
    stages = applied_stages(attachment, stages)
    total = len(stages)
    if attachment.status == AttachmentStatus.COMPLETED:
        return Progress(total, total)
    position = stage_position(stages, attachment.current_stage_id)
    return Progress(position or 0, total)


def stage_snapshot(stage: Stage | None) -> dict[str, Any] | None:
    """Describe a stage as events carry it (no id-less copy: a stage keeps its id)."""
    if stage is None:
        return None
    return {
        "id": stage.pk,
        "name_en": stage.name_en,
        "name_ar": stage.name_ar,
        "color": stage.color,
    }


def pipeline_snapshot(pipeline: Any) -> dict[str, Any] | None:
    """Describe a pipeline as events carry it."""
    if pipeline is None:
        return None
    return {"id": pipeline.pk, "name_en": pipeline.name_en}


def attachment_snapshot(attachment: WorkflowAttachment, stages: list[Stage]) -> dict[str, Any]:
    """Describe an attachment's state, as every event carries it (the one builder of it).

    The broadcast builds it once per committed batch and the GraphQL event type renders
    pushed events from it; queried events build it from the attachment's current state.
    """
    progress = compute_progress(attachment, stages)
    by_id = {stage.pk: stage for stage in stages}
    stage = by_id.get(attachment.current_stage_id) if attachment.current_stage_id else None
    return {
        "id": attachment.pk,
        "status": attachment.status,
        "current_stage": stage_snapshot(stage),
        "current_pipeline": pipeline_snapshot(stage.pipeline if stage else None),
        "progress": {
            "completed_stages": progress.completed_stages,
            "total_stages": progress.total_stages,
        },
        # Read from the transition policy: what the attachment accepts now, from someone.
        "open_actions": [action.value for action in open_actions(attachment.status)],
    }


def compute_next_stage(attachment: WorkflowAttachment, stages: list[Stage]) -> Stage | None:
    """Return the stage after the current one; None once the attachment is finished."""
    if attachment.status not in LIVE_STATUSES:
        return None
    if attachment.status == AttachmentStatus.NOT_STARTED:
        return stages[0] if stages else None
    stages = applied_stages(attachment, stages)
    position = stage_position(stages, attachment.current_stage_id)
    if position is None or position + 1 >= len(stages):
        return None
    return stages[position + 1]


def attachments_for_object(obj: Model) -> QuerySet[WorkflowAttachment]:
    """Return the attachments of ``obj``, newest first."""
    content_type = ContentType.objects.get_for_model(obj)
    return WorkflowAttachment.objects.filter(
        content_type=content_type, object_id=str(obj.pk)
    ).order_by("-id")


def get_workflow_attachment(obj: Model) -> WorkflowAttachment | None:
    """Return the live attachment of ``obj``, else its most recent one, else None."""
    found = list(
        attachments_for_object(obj).select_related(
            "workflow", "current_stage", "current_pipeline", "started_by"
        )[:5]
    )
    for attachment in found:
        if attachment.status in LIVE_STATUSES:
            return attachment
    return found[0] if found else None


def get_current_stage(obj: Model) -> Stage | None:
    """Return the stage ``obj`` is waiting in, or None."""
    attachment = get_workflow_attachment(obj)
    return attachment.current_stage if attachment else None


def get_workflow_progress(workflow: Workflow | None, obj: Model) -> dict[str, Any]:
    """Return the seed's progress dict for ``obj`` (``workflow`` is accepted for compatibility)."""
    attachment = get_workflow_attachment(obj)
    if attachment is None:
        return {
            "current_stage": None,
            "current_pipeline": None,
            "status": AttachmentStatus.NOT_STARTED.value,
            "progress_percentage": 0,
            "started_at": None,
            "completed_at": None,
            "next_stage": None,
        }
    stages = ordered_stages(attachment.workflow_id)
    progress = compute_progress(attachment, stages)
    next_stage = compute_next_stage(attachment, stages)
    return {
        "current_stage": attachment.current_stage.name_en if attachment.current_stage else None,
        "current_pipeline": (
            attachment.current_pipeline.name_en if attachment.current_pipeline else None
        ),
        "status": attachment.status,
        "current_status": attachment.status,
        "progress_percentage": progress.percentage,
        "completed_stages": progress.completed_stages,
        "total_stages": progress.total_stages,
        "started_at": attachment.started_at,
        "completed_at": attachment.completed_at,
        "next_stage": next_stage.name_en if next_stage else None,
    }


def user_requires_action(obj: Model, user: Any) -> bool:
    """Tell whether ``user`` holds a current approval step on ``obj``."""
    content_type = ContentType.objects.get_for_model(obj)
    return approvals.user_holds_current_row(content_type.pk, str(obj.pk), user)


def pending_approvals_queryset(user: Any) -> QuerySet[WorkflowAttachment]:
    """Return the in-progress attachments of the user's company where the user can act now."""
    return pending_approvals_of(company_id=get_company_id_for_user(user), user_id=user.pk)


def pending_approvals_of(*, company_id: Any, user_id: Any) -> QuerySet[WorkflowAttachment]:
    """Return ``pending_approvals_queryset`` of the user ``user_id`` acting for ``company_id``."""
    return (
        WorkflowAttachment.objects.filter(
            company_id=company_id, status=AttachmentStatus.IN_PROGRESS
        )
        .filter(approvals.user_can_act_on_attachment_of(user_id))
        .order_by("-id")
    )


def get_pending_approvals_for_user(user: Any) -> list[WorkflowAttachment]:
    """Return the attachments waiting for ``user``'s decision, newest first."""
    return list(
        pending_approvals_queryset(user).select_related(
            "workflow", "current_stage", "current_pipeline", "content_type"
        )
    )


# --------------------------------------------------------------------------- deadlines


def with_due_at(queryset: QuerySet[WorkflowAttachment]) -> QuerySet[WorkflowAttachment]:
    """Annotate ``due_at``: the earliest due time of the attachment's current steps (or None).

    A subquery in the list's own query: a page of any length costs no extra query.
    """
    return queryset.annotate(due_at=approvals.due_at_subquery())


def filter_overdue(
    queryset: QuerySet[WorkflowAttachment], *, overdue: bool, now: Any = None
) -> QuerySet[WorkflowAttachment]:
    """Keep the in-progress attachments with (``overdue``) or without a step past its due time."""
    now = now or timezone.now()
    condition = approvals.overdue_exists(now)
    if overdue:
        return queryset.filter(condition, status=AttachmentStatus.IN_PROGRESS)
    return queryset.exclude(condition, status=AttachmentStatus.IN_PROGRESS)


def overdue_attachments(company_id: int | None, *, now: Any = None) -> QuerySet[WorkflowAttachment]:
    """Return the company's in-progress attachments with a step past its due time, newest first."""
    return filter_overdue(company_attachments(company_id), overdue=True, now=now)


def due_at_for_attachments(attachments: list[WorkflowAttachment]) -> dict[int, Any]:
    """Return ``{attachment id: due time or None}`` for many attachments in one query."""
    if not attachments:
        return {}
    ids = [attachment.pk for attachment in attachments]
    found = dict(
        WorkflowAttachment.objects.filter(pk__in=ids, status=AttachmentStatus.IN_PROGRESS)
        .annotate(due_at=approvals.due_at_subquery())
        .values_list("pk", "due_at")
    )
    return {pk: found.get(pk) for pk in ids}


def is_overdue(due_at: Any, *, now: Any = None) -> bool:
    """Tell whether a due time (from ``due_at_for_attachments`` or ``with_due_at``) has passed."""
    return due_at is not None and due_at <= (now or timezone.now())


def earliest_due_time(steps: Any) -> Any:
    """Return the earliest due time of open steps (``StepInfo``), or None without deadlines."""
    return min((step.due_at for step in steps if step.due_at is not None), default=None)


# What ``due_order`` holds for an attachment without a deadline: after every real due time.
NO_DUE_TIME = datetime(9999, 12, 31, tzinfo=UTC)


def by_due_time(queryset: QuerySet[WorkflowAttachment]) -> QuerySet[WorkflowAttachment]:
    """Order attachments by the earliest due time (no deadline last), then newest first.

    The order is by plain annotations (``due_order``, then ``id``), so keyset cursors can hold
    a row's position: ``due_order`` is ``due_at`` with ``NO_DUE_TIME`` for no deadline.
    """
    return (
        with_due_at(queryset)
        .annotate(due_order=Coalesce(F("due_at"), Value(NO_DUE_TIME, output_field=DateTimeField())))
        .order_by("due_order", "-id")
    )


def pending_approvals_by_due_time(user: Any) -> QuerySet[WorkflowAttachment]:
    """Return the user's inbox with ``due_at``, the earliest due first (no deadline last)."""
    return by_due_time(pending_approvals_queryset(user))


def pending_approvals_by_due_time_of(
    *, company_id: Any, user_id: Any
) -> QuerySet[WorkflowAttachment]:
    """Return ``pending_approvals_by_due_time`` of ``user_id`` acting for ``company_id``.

    Built from plain values, so a caller may build it with placeholders and compile it once.
    """
    return by_due_time(pending_approvals_of(company_id=company_id, user_id=user_id))


# --------------------------------------------------------------------------- tenant-scoped reads


def company_workflows(company_id: int | None) -> QuerySet[Workflow]:
    """Return the templates of a company (run copies made on attach are never listed)."""
    return Workflow.objects.filter(company_id=company_id, is_hidden=False)


def workflows_for_model_queryset(
    model: type[Model], *, company_id: int | None = None
) -> QuerySet[Workflow]:
    """Return the active templates that may be attached to ``model``, by English name.

    ``ENABLED_MODELS`` and ``MODEL_WORKFLOW_MAPPINGS`` (slugs or English names per model
    label, ``"default"`` for the others; no entry allows every template) decide; with
    ``company_id`` only that company's templates.
    """
    if not is_model_enabled(model):
        return Workflow.objects.none()
    queryset = Workflow.objects.filter(is_hidden=False, status=WorkflowStatus.ACTIVE)
    if company_id is not None:
        queryset = queryset.filter(company_id=company_id)
    allowed = model_workflow_mapping(model)
    if allowed is not None:
        queryset = queryset.filter(Q(slug__in=allowed) | Q(name_en__in=allowed))
    return queryset.order_by("name_en", "id")


def company_workflow_queryset(company_id: int | None, workflow_id: Any) -> QuerySet[Workflow]:
    """Return the query behind ``company_workflow`` (for callers that prefetch on it)."""
    try:
        return Workflow.objects.filter(company_id=company_id, pk=int(workflow_id))
    except (TypeError, ValueError):
        return Workflow.objects.none()


def company_workflow(company_id: int | None, workflow_id: Any) -> Workflow | None:
    """Return one workflow of a company (template or run copy), or None."""
    return company_workflow_queryset(company_id, workflow_id).first()


def company_attachments(company_id: int | None) -> QuerySet[WorkflowAttachment]:
    """Return the attachments of a company, newest first."""
    return WorkflowAttachment.objects.filter(company_id=company_id).order_by("-id")


def company_attachment_queryset(
    company_id: int | None, attachment_id: Any
) -> QuerySet[WorkflowAttachment]:
    """Return the query behind ``company_attachment`` (for callers that prefetch on it)."""
    try:
        return company_attachments(company_id).filter(pk=int(attachment_id))
    except (TypeError, ValueError):
        return WorkflowAttachment.objects.none()


def company_attachment(company_id: int | None, attachment_id: Any) -> WorkflowAttachment | None:
    """Return one attachment of a company, or None."""
    return company_attachment_queryset(company_id, attachment_id).first()


def company_users(company_id: int | None) -> QuerySet[Any]:
    """Return the users acting for a company: its members and the company account itself."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return get_user_model().objects.filter(
        Q(pk=company_id) | Q(company_membership__company_id=company_id)
    )


def company_pipeline(company_id: int | None, pipeline_id: Any) -> Any:
    """Return a pipeline of one of the company's templates, or None."""
    from backend.workflows.models import Pipeline

    try:
        return (
            Pipeline.objects.select_related("workflow")
            .filter(workflow__company_id=company_id, pk=int(pipeline_id))
            .first()
        )
    except (TypeError, ValueError):
        return None


def company_stage(company_id: int | None, stage_id: Any) -> Stage | None:
    """Return a stage of one of the company's workflows, or None."""
    try:
        return (
            Stage.objects.select_related("pipeline__workflow")
            .filter(pipeline__workflow__company_id=company_id, pk=int(stage_id))
            .first()
        )
    except (TypeError, ValueError):
        return None


def company_target(company_id: int | None, model_label: str, object_id: Any) -> Model | None:
    """Return a business object by ``app_label.modelname`` and pk, if its creator is of the company.

    Objects whose model names no creator field are never reachable this way.
    """
    app_label, _, model_name = str(model_label).lower().partition(".")
    content_type = ContentType.objects.filter(app_label=app_label, model=model_name).first()
    model = content_type.model_class() if content_type else None
    if model is None:
        return None
    try:
        obj = model._default_manager.filter(pk=object_id).first()
    except (TypeError, ValueError):  # not a key of this model: not found
        return None
    if obj is None:
        return None
    creator = object_creator(obj)
    if creator is None or get_company_id_for_user(creator) != company_id:
        return None
    return obj


def can_manage_workflows(user: Any, company_id: int | None) -> bool:
    """Tell whether ``user`` may build and edit the templates of ``company_id``."""
    return bool(
        user.is_superuser
        or user.pk == company_id
        or user.is_staff
        or user.has_perm("workflows.change_workflow")
    )


def company_workflow_actions(
    company_id: int | None,
    *,
    workflow_id: Any = None,
    pipeline_id: Any = None,
    stage_id: Any = None,
) -> QuerySet[Any]:
    """Return the stored actions of a company's workflow (every level), pipeline (with its
    stages) or stage; the given filters combine. Ordered workflow, pipeline, stage, then ``order``."""
    from django.db.models import Case, IntegerField, Q, Value, When

    from backend.workflows.models import WorkflowAction

    queryset = WorkflowAction.objects.filter(
        Q(workflow__company_id=company_id)
        | Q(pipeline__workflow__company_id=company_id)
        | Q(stage__pipeline__workflow__company_id=company_id)
    )
    try:
        if workflow_id is not None:
            workflow_id = int(workflow_id)
            queryset = queryset.filter(
                Q(workflow_id=workflow_id)
                | Q(pipeline__workflow_id=workflow_id)
                | Q(stage__pipeline__workflow_id=workflow_id)
            )
        if pipeline_id is not None:
            pipeline_id = int(pipeline_id)
            queryset = queryset.filter(
                Q(pipeline_id=pipeline_id) | Q(stage__pipeline_id=pipeline_id)
            )
        if stage_id is not None:
            queryset = queryset.filter(stage_id=int(stage_id))
    except (TypeError, ValueError):
        return WorkflowAction.objects.none()
    level = Case(
        When(workflow__isnull=False, then=Value(0)),
        When(pipeline__isnull=False, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return queryset.annotate(level=level).order_by("level", "action_type", "order", "id")


def company_workflow_action(company_id: int | None, action_id: Any) -> Any:
    """Return one stored action of a company's workflows, with its scope loaded, or None."""
    try:
        action_id = int(action_id)
    except (TypeError, ValueError):
        return None
    return (
        company_workflow_actions(company_id)
        .select_related("workflow", "pipeline__workflow", "stage__pipeline__workflow")
        .filter(pk=action_id)
        .first()
    )


def _company_scoped(model: Any, company_id: int | None) -> QuerySet[Any]:
    """Return the rows of ``model`` of a company when it has a ``company`` column, else all."""
    queryset = model._default_manager.all()
    if any(f.name == "company" for f in model._meta.fields):
        queryset = queryset.filter(company_id=company_id)
    return queryset


def company_roles(company_id: int | None) -> QuerySet[Any]:
    """Return the roles (groups) that members of a company belong to, by name."""
    from backend.workflows.approval_config import role_member_field, role_model

    member_roles = company_users(company_id).values(role_member_field())
    return role_model()._default_manager.filter(pk__in=member_roles).order_by("name", "pk")


def company_forms(company_id: int | None) -> QuerySet[Any]:
    """Return the forms approvals of a company may require (all, when forms have no company)."""
    from backend.workflows.approval_config import form_model

    return _company_scoped(form_model(), company_id).order_by("pk")


def company_departments(company_id: int | None) -> QuerySet[Any]:
    """Return the company's departments (none when no ``DEPARTMENT_MODEL`` is configured)."""
    from backend.workflows.engine_settings import department_model

    model = department_model()
    if model is None:
        from django.contrib.auth.models import Group

        return Group.objects.none()
    return _company_scoped(model, company_id).order_by("pk")


def company_workflows_and_copies(company_id: int | None) -> QuerySet[Workflow]:
    """Return every workflow of a company: templates and the attachments' running copies."""
    return Workflow.objects.filter(company_id=company_id)


def company_pipelines(company_id: int | None) -> QuerySet[Any]:
    """Return the pipelines of every workflow of a company."""
    from backend.workflows.models import Pipeline

    return Pipeline.objects.filter(workflow__company_id=company_id)


def company_stages(company_id: int | None) -> QuerySet[Stage]:
    """Return the stages of every workflow of a company."""
    return Stage.objects.filter(pipeline__workflow__company_id=company_id)


def company_events(company_id: int | None) -> QuerySet[Any]:
    """Return the audit events of a company's attachments, with what they name."""
    from backend.workflows.models import WorkflowEvent

    return WorkflowEvent.objects.filter(attachment__company_id=company_id).select_related(
        "actor", "from_stage", "to_stage", "from_pipeline", "to_pipeline", "delegate"
    )


def company_colleagues(company_id: int | None, *, search: str = "", limit: int = 20) -> list[Any]:
    """Return up to ``limit`` active users of a company whose name or login contains ``search``."""
    users = company_users(company_id).filter(is_active=True)
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    return list(users.order_by("username", "pk")[:limit])


def configurations_by_model(labels: list[str]) -> dict[str, Any]:
    """Return the enabled configurations of these models (``app_label.modelname``), by label."""
    from backend.workflows.models import WorkflowConfiguration

    wanted = Q(pk__in=[])
    for label in set(labels):
        app_label, _, model_name = label.lower().partition(".")
        wanted |= Q(content_type__app_label=app_label, content_type__model=model_name)
    return {
        f"{configuration.content_type.app_label}.{configuration.content_type.model}": configuration
        for configuration in WorkflowConfiguration.objects.filter(
            wanted, is_enabled=True
        ).select_related("content_type")
    }


def enabled_workflow_models() -> list[Any]:
    """Return the configurations of the models workflows may run on (``ENABLED_MODELS`` too)."""
    from backend.workflows.models import WorkflowConfiguration

    configurations = WorkflowConfiguration.objects.filter(is_enabled=True).select_related(
        "content_type"
    )
    return sorted(
        (
            configuration
            for configuration in configurations
            if (model := configuration.content_type.model_class()) is not None
            and is_model_enabled(model)
        ),
        key=lambda configuration: (
            configuration.content_type.app_label,
            configuration.content_type.model,
        ),
    )


def default_workflows(configurations: list[Any], company_id: int | None) -> dict[int, Workflow]:
    """Return each configuration's default workflow in a company, by configuration id.

    The default is what a new object of the model would start with: the active template of
    the company whose slug the model's ``AUTO_START_WORKFLOWS`` rule names (its conditions
    aside), else the configuration's ``default_workflow`` when it is an active template of the
    company. ``MODEL_WORKFLOW_MAPPINGS`` must allow it. Two queries at most, for any number.
    """
    from backend.workflows.engine_settings import engine_setting, lookup_by_label

    rules = engine_setting("AUTO_START_WORKFLOWS") or {}
    slugs: dict[int, str] = {}
    for configuration in configurations:
        model = configuration.content_type.model_class()
        rule = lookup_by_label(rules, model) if model is not None else None
        if rule and rule.get("workflow_slug"):
            slugs[configuration.pk] = str(rule["workflow_slug"])
    active = Workflow.objects.filter(
        company_id=company_id, is_hidden=False, status=WorkflowStatus.ACTIVE
    )
    by_slug: dict[str, Workflow] = {}
    if slugs:
        for candidate in active.filter(slug__in=set(slugs.values())).order_by("id"):
            by_slug[candidate.slug] = candidate  # the newest wins, as auto-start picks it
    configured_ids = {
        configuration.default_workflow_id
        for configuration in configurations
        if configuration.pk not in slugs and configuration.default_workflow_id is not None
    }
    by_id = active.in_bulk(configured_ids) if configured_ids else {}
    result: dict[int, Workflow] = {}
    for configuration in configurations:
        workflow: Workflow | None = (
            by_slug.get(slugs[configuration.pk])
            if configuration.pk in slugs
            else by_id.get(configuration.default_workflow_id)
        )
        model = configuration.content_type.model_class()
        allowed = model_workflow_mapping(model) if model is not None else None
        if workflow is None or (
            allowed is not None and workflow.slug not in allowed and workflow.name_en not in allowed
        ):
            continue
        result[configuration.pk] = workflow
    return result
