"""Run workflows: attach, start, approve, reject, delegate, send back, cancel.

Every public function here runs in one transaction; if anything fails, nothing is written.

Decisions are keyed by attachment (``decide_on_attachment``; the seed's ``approve_stage(obj=,
user=)`` and friends find the object's live attachment and call it). Each one is bound to the
step it was made for: ``expected_stage`` or, without it, the current stage read before the
lock (outside the transaction where possible: on SQLite a transaction takes the write lock
as it begins). It then locks the attachment row by primary key (``select_for_update``),
replays an idempotency key already used, and checks under the lock that the stage is still
the one it was made for (else ``ConflictError``) and what the transition policy
(``backend.workflows.transitions``) allows. Concurrent decisions on one step are serialised:
exactly one decides it, the others fail with ``ConflictError`` or ``InvalidStateError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import ForeignKey, Model, OuterRef, Q
from django.utils import timezone

from backend.precompiled import PrecompiledQuery
from backend.workflows import approvals, transition_state, transitions
from backend.workflows.actions import action_rows_exist
from backend.workflows.approval_config import check_roles, role_model
from backend.workflows.companies import (
    cached_company_id,
    company_id_subquery,
    get_company_id_for_user,
    remember_company_id,
)
from backend.workflows.conditions import condition_holds
from backend.workflows.constants import (
    LIVE_STATUSES,
    ApprovalBehaviour,
    AttachmentStatus,
    EventType,
    WorkflowStatus,
)
from backend.workflows.deadline_emails import send_step_emails
from backend.workflows.engine_settings import (
    engine_setting,
    is_model_enabled,
    model_label,
    model_workflow_mapping,
)
from backend.workflows.events import save_events
from backend.workflows.exceptions import (
    ConflictError,
    FormRequiredError,
    InvalidStateError,
    NotFoundError,
    UnauthenticatedError,
    WorkflowPermissionDenied,
    WorkflowValidationError,
)
from backend.workflows.input_limits import check_json, check_text, parse_id
from backend.workflows.models import (
    Stage,
    Workflow,
    WorkflowAttachment,
    WorkflowConfiguration,
    WorkflowEvent,
)
from backend.workflows.selectors import (
    can_manage_workflows,
    company_roles,
    ordered_stages,
    ordered_stages_queryset,
    stage_position,
)
from backend.workflows.services.building import clone_structure

logger = logging.getLogger(__name__)

MAX_REASON_LENGTH = 5000


# --------------------------------------------------------------------------- helpers


def _require_user(user: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        raise UnauthenticatedError("You must be signed in.")


def _require_permission(user: Any, setting_key: str, codename: str) -> None:
    if engine_setting("PERMISSIONS").get(setting_key) and not user.has_perm(
        f"workflows.{codename}"
    ):
        raise WorkflowPermissionDenied(f"You need the workflows.{codename} permission.")


def _clean_reason(reason: Any, *, required: bool, field_name: str = "reason") -> str:
    text = (reason or "").strip() if isinstance(reason, str) else ""
    check_text(text, field_name)
    if required and not text:
        raise WorkflowValidationError(f"A {field_name} is required.", field=field_name)
    if len(text) > MAX_REASON_LENGTH:
        raise WorkflowValidationError(
            f"The {field_name} is longer than {MAX_REASON_LENGTH} characters.", field=field_name
        )
    return text


def _event(
    attachment: WorkflowAttachment, event_type: str, actor: Any, **fields: Any
) -> WorkflowEvent:
    return WorkflowEvent(
        attachment=attachment,
        company_id=attachment.company_id,
        event_type=event_type,
        actor=actor,
        **fields,
    )


LOST_RACE = (
    "This step has already been decided or is no longer waiting for you; "
    "reload the workflow and try again."
)


# Marks "no step read yet" (None is a real answer: an attachment without a current stage).
_UNREAD: Any = object()


def _expected_stage_id(expected_stage: Any) -> int | None:
    """Return the id of the step a decision was made for (a running copy's ``Stage`` or id)."""
    if expected_stage is None:
        return None
    value: Any = expected_stage.pk if isinstance(expected_stage, Stage) else expected_stage
    try:
        if isinstance(value, bool):  # True is an int to Python, not an id
            raise TypeError
        return int(value)
    except (TypeError, ValueError):
        raise WorkflowValidationError(
            "expected_stage must be a stage or a stage id.", field="expectedStageId"
        ) from None


def _attachment_pk(attachment_id: Any) -> int:
    return parse_id(attachment_id, "attachmentId", what="Workflow attachment")


def _seen_stage(attachment_id: int) -> int | None:
    """Read the attachment's current stage before the lock: the step the request began on.

    Runs before the decision's transaction opens where it can: on SQLite that transaction
    takes the write lock as it begins (``BEGIN IMMEDIATE``), so a read inside it would only
    ever see the state it then decides on.
    """
    rows = list(
        WorkflowAttachment.objects.filter(pk=attachment_id).values_list(
            "current_stage_id", flat=True
        )[:1]
    )
    if not rows:
        raise NotFoundError("Workflow attachment not found.", field="attachmentId")
    return rows[0]


def _find_query(content_type_id: int, object_id: str, actor_id: int | None = None) -> Any:
    queryset = WorkflowAttachment.objects.filter(
        content_type_id=content_type_id, object_id=object_id
    )
    columns = ["id", "company_id", "status", "current_stage_id"]
    if actor_id is not None:
        queryset = queryset.annotate(actor_company_id=company_id_subquery(actor_id))
        columns.append("actor_company_id")
    return queryset.order_by("-id").values(*columns)[:2]


# Every seed-compatible decision starts with this read: compiled once per database.
_find_statement = PrecompiledQuery(_find_query)


def _find_attachment(obj: Model, user: Any) -> tuple[int, int | None]:
    """Return ``(id, current stage id)`` of the live (else the latest) attachment of ``obj``.

    The seed-compatible decisions start here: it is their read of the step before the lock,
    and it learns the user's company in the same query.
    """
    content_type = ContentType.objects.get_for_model(obj)
    company_id = cached_company_id(user)
    if company_id is None:
        rows = _find_statement.fetch(
            content_type_id=content_type.pk, object_id=str(obj.pk), actor_id=user.pk
        )
    else:
        rows = _find_statement.fetch(content_type_id=content_type.pk, object_id=str(obj.pk))
    if rows and company_id is None:
        company_id = remember_company_id(user, rows[0]["actor_company_id"])
    rows = [row for row in rows if row["company_id"] == company_id or user.is_superuser]
    if not rows:
        raise NotFoundError("No workflow is attached to this object.")
    row = next((row for row in rows if row["status"] in LIVE_STATUSES), rows[0])
    return row["id"], row["current_stage_id"]


def _lock_query(attachment_id: int, actor_id: int | None = None) -> Any:
    queryset = (
        WorkflowAttachment.objects.select_for_update(of=("self",))
        .select_related(
            "current_stage",
            "current_pipeline",
            "content_type__workflow_configuration",
            "workflow",  # the after-commit listeners read the running copy (transition_state)
        )
        .filter(pk=attachment_id)
    )
    # Whether the running copy has stored actions rides along, for the after-commit listeners.
    queryset = queryset.annotate(has_action_rows=action_rows_exist(OuterRef("workflow_id")))
    if actor_id is not None:
        queryset = queryset.annotate(actor_company_id=company_id_subquery(actor_id))
    return queryset


# The lock starts every decision: compiled once per database (with and without the company).
_lock_statement = PrecompiledQuery(_lock_query)


def _lock(attachment_id: int, user: Any) -> WorkflowAttachment:
    """Lock the attachment row by primary key and return it, for the user's company only.

    One query locks the row and also reads the current stage and pipeline, the model's
    ``WorkflowConfiguration`` (used on completion and rejection) and, unless this user object
    already knows it, the user's company. Only the attachment row is locked (``of=self``).
    """
    company_id = cached_company_id(user)
    if company_id is None:
        found = _lock_statement.fetch(attachment_id=attachment_id, actor_id=user.pk)
    else:
        found = _lock_statement.fetch(attachment_id=attachment_id)
    attachment = found[0] if found else None
    if attachment is not None and company_id is None:
        # ``actor_company_id`` is the annotation added above, unknown to the model's type.
        company_id = remember_company_id(user, attachment.actor_company_id)  # type: ignore[attr-defined]
    if attachment is None or (attachment.company_id != company_id and not user.is_superuser):
        raise NotFoundError("Workflow attachment not found.", field="attachmentId")
    # After waiting for the lock, PostgreSQL returns the attachment row as updated by the
    # transaction it waited for, but outer-joined rows whose key changed come back NULL:
    # drop those so they load from the new key.
    for name in ("current_stage", "current_pipeline"):
        field = cast(ForeignKey, WorkflowAttachment._meta.get_field(name))
        if field.is_cached(attachment) and getattr(
            field.get_cached_value(attachment), "pk", None
        ) != getattr(attachment, field.attname):
            field.delete_cached_value(attachment)
    return attachment


def _lock_attachment(obj: Model, user: Any, *, statuses: tuple[str, ...]) -> WorkflowAttachment:
    """Lock the live (else the latest) attachment of ``obj``; refuse it outside ``statuses``."""
    attachment_id, _ = _find_attachment(obj, user)
    attachment = _lock(attachment_id, user)
    if attachment.status not in statuses:
        raise InvalidStateError(
            f"The workflow is {attachment.get_status_display().lower()}; "
            "this action is not possible now."
        )
    return attachment


def _permission_granted(user: Any, setting_key: str, codename: str) -> bool:
    return not engine_setting("PERMISSIONS").get(setting_key) or user.has_perm(
        f"workflows.{codename}"
    )


def _share(
    step: approvals.StepInfo | None, attachment: WorkflowAttachment
) -> transitions.StepShare | None:
    if step is None:
        return None
    return transitions.StepShare(
        behaviour=step.behaviour,
        is_checked_in=step.is_checked_in,
        is_on_current_stage=(
            attachment.current_stage_id is not None and step.stage_id == attachment.current_stage_id
        ),
    )


def _actor(
    attachment: WorkflowAttachment,
    user: Any,
    action: str,
    step: approvals.StepInfo | None = None,
) -> transitions.Actor:
    """Gather the facts the transition policy needs about ``user`` for one ``action``.

    Only the facts ``action`` can depend on are loaded (a permission check may cost queries);
    ``available_actions`` gathers the same facts for every action at once.
    """
    is_superuser = bool(user.is_superuser)
    is_starter = attachment.started_by_id is not None and user.pk == attachment.started_by_id
    is_company_account = user.pk == attachment.company_id
    return transitions.Actor(
        is_superuser=is_superuser,
        is_company_account=is_company_account,
        is_starter=is_starter,
        may_change_attachments=(
            action in (transitions.Action.CANCEL, transitions.Action.REASSIGN)
            and not (is_superuser or is_starter or is_company_account)
            and user.has_perm("workflows.change_workflowattachment")
        ),
        may_start=action != transitions.Action.START
        or _permission_granted(user, "REQUIRE_PERMISSION_TO_START", "start_workflow"),
        may_approve=action
        in (transitions.Action.START, transitions.Action.CANCEL, transitions.Action.REASSIGN)
        or _permission_granted(user, "REQUIRE_PERMISSION_TO_APPROVE", "approve_workflow"),
        share=_share(step, attachment),
    )


@dataclass(frozen=True)
class ViewerPermissions:
    """The Django permissions the transition policy asks about, for one user."""

    may_start: bool
    may_approve: bool
    may_change_attachments: bool


POLICY_PERMISSIONS = ("start_workflow", "approve_workflow", "change_workflowattachment")
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _workflow_permissions(user: Any) -> set[str]:
    """Return which of ``POLICY_PERMISSIONS`` ``user`` holds.

    With Django's own ModelBackend alone, one query reads both of its sources (the user's
    and their groups' permissions); any other backend is asked through ``has_perm``.
    """
    if user.is_superuser:
        return set(POLICY_PERMISSIONS)
    if list(settings.AUTHENTICATION_BACKENDS) != [MODEL_BACKEND]:
        return {name for name in POLICY_PERMISSIONS if user.has_perm(f"workflows.{name}")}
    if not user.is_active:
        return set()
    return {row["codename"] for row in _permissions_statement.fetch(user_id=user.pk)}


def _permissions_query(user_id: int) -> Any:
    return (
        Permission.objects.filter(
            Q(user=user_id) | Q(group__user=user_id),
            content_type__app_label="workflows",
            codename__in=POLICY_PERMISSIONS,
        )
        .order_by()
        .values("codename")
        .distinct()
    )


# Read for each request that lists available actions: compiled once per database.
_permissions_statement = PrecompiledQuery(_permissions_query)


def viewer_permissions(user: Any) -> ViewerPermissions:
    """Read the permissions the policy asks about, for every action at once (one query)."""
    held = _workflow_permissions(user)
    required = engine_setting("PERMISSIONS")
    return ViewerPermissions(
        may_start=not required.get("REQUIRE_PERMISSION_TO_START") or "start_workflow" in held,
        may_approve=not required.get("REQUIRE_PERMISSION_TO_APPROVE") or "approve_workflow" in held,
        may_change_attachments="change_workflowattachment" in held,
    )


def available_actions(
    *,
    attachment: WorkflowAttachment,
    user: Any,
    steps: list[approvals.StepInfo],
    permissions: ViewerPermissions,
) -> list[transitions.Action]:
    """Return what ``user`` may do on ``attachment`` now, as the services would decide it.

    ``steps`` are the attachment's current steps (``approvals.open_steps_for_objects``).
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    mine = next((step for step in steps if step.assignee_id == user.pk), None)
    actor = transitions.Actor(
        is_superuser=bool(user.is_superuser),
        is_company_account=user.pk == attachment.company_id,
        is_starter=attachment.started_by_id is not None and user.pk == attachment.started_by_id,
        may_change_attachments=permissions.may_change_attachments,
        may_start=permissions.may_start,
        may_approve=permissions.may_approve,
        share=_share(mine, attachment)
        if attachment.status == AttachmentStatus.IN_PROGRESS
        else None,
    )
    return transitions.available_actions(attachment.status, actor)


def _decided_on_current_step(attachment: WorkflowAttachment, user: Any) -> bool:
    """Tell whether ``user`` already decided on the current stage's open step (this round).

    The current stage's steps are the last ones opened: ``last_step_number`` minus its
    number of approvals, up to ``last_step_number``.
    """
    stage = attachment.current_stage
    count = len(stage.approvals or []) if stage is not None else 0
    if not count:
        return False
    return approvals.user_decided_on_steps(
        attachment.content_type_id,
        attachment.object_id,
        attachment.last_step_number - count + 1,
        attachment.last_step_number,
        user,
    )


def _check_decision(
    action: str, attachment: WorkflowAttachment, user: Any, seen_stage_id: int | None
) -> approvals.StepInfo | None:
    """Apply the transition policy, the step binding and the fail-closed rules, in order.

    The status (INVALID_STATE), the settings' permission (PERMISSION_DENIED), the step the
    decision was made for (CONFLICT when it changed), then who may act: NOT_AN_APPROVER for
    anyone who holds no share of the current step, CONFLICT for who already decided on it.
    """
    status_label = attachment.get_status_display()
    actor = _actor(attachment, user, action)
    error = transitions.state_refusal(action, attachment.status, status_label)
    error = error or transitions.permission_refusal(action, actor)
    if error is not None:
        raise error
    if attachment.current_stage_id != seen_stage_id:
        raise ConflictError(LOST_RACE)
    if action in (transitions.Action.CANCEL, transitions.Action.REASSIGN):
        # Managers' actions: no share of the step is needed.
        error = transitions.refusal(action, attachment.status, actor, status_label=status_label)
        if error is not None:
            raise error
        if action == transitions.Action.REASSIGN and attachment.current_stage_id is None:
            raise InvalidStateError(
                "The workflow has no current stage, so there is no step to reassign."
            )
        return None
    if attachment.current_stage_id is None:
        raise InvalidStateError(
            "The workflow has no current stage, so nothing can be decided on it; "
            "an administrator has to cancel it."
        )
    step = approvals.current_step_for_user(attachment.content_type_id, attachment.object_id, user)
    if step is not None and step.stage_id != attachment.current_stage_id:
        # Any approval requires the step rows of the current stage.
        raise InvalidStateError(
            "The open approval step does not belong to the current stage; "
            "an administrator has to cancel this workflow."
        )
    actor = _actor(attachment, user, action, step)
    error = transitions.refusal(action, attachment.status, actor, status_label=status_label)
    if error is not None:
        if step is None and _decided_on_current_step(attachment, user):
            raise ConflictError(LOST_RACE)
        raise error
    assert step is not None  # every step action's guard requires a share
    return step


def _clean_key(idempotency_key: str | None) -> str | None:
    if not idempotency_key:
        return None
    if len(idempotency_key) > 100:
        raise WorkflowValidationError(
            "idempotency_key is longer than 100 characters.", field="idempotencyKey"
        )
    check_text(idempotency_key, "idempotencyKey")
    return idempotency_key


def _check_key_use(attachment_id: int, details: dict[str, Any], wanted: tuple[int, str]) -> None:
    """Refuse an idempotency key already used on another attachment or for another action."""
    if attachment_id != wanted[0]:
        raise ConflictError(
            "This idempotency key was already used for a decision on another object.",
            field="idempotencyKey",
        )
    if (details or {}).get("action", wanted[1]) != wanted[1]:
        raise ConflictError(
            "This idempotency key was already used for another decision.",
            field="idempotencyKey",
        )


def _replayed(user: Any, key: str | None, attachment_id: int, action: str) -> bool:
    """Tell whether ``user`` already made this decision with this key (then it is replayed)."""
    if key is None:
        return False
    used = (
        WorkflowEvent.objects.filter(actor_id=user.pk, idempotency_key=key)
        .values_list("attachment_id", "details")
        .first()
    )
    if used is None:
        return False
    _check_key_use(used[0], used[1], (attachment_id, action))
    return True


def _check_form(step: approvals.StepInfo, form_data: Any) -> dict[str, Any] | None:
    """Apply the step's behaviour rules to submitted form data."""
    if form_data is not None and not isinstance(form_data, dict):
        raise WorkflowValidationError("form_data must be an object.", field="formData")
    check_json(form_data, "formData")
    if step.behaviour == ApprovalBehaviour.MOVE:
        if form_data:
            raise WorkflowValidationError("A move step takes no form data.", field="formData")
        return None
    needs_data = step.behaviour == ApprovalBehaviour.SUBMIT or step.required_form is not None
    if needs_data and not form_data:
        raise FormRequiredError("This step requires form data.", field="formData")
    if step.required_form is not None:
        assert form_data is not None  # needs_data: missing form data was refused above
        required_fields = step.required_fields
        if required_fields is None:  # a form model whose schema could not ride along
            required_fields = tuple(approvals.form_required_field_names(step.required_form))
        missing = [name for name in required_fields if form_data.get(name) in (None, "", [])]
        if missing:
            raise FormRequiredError(
                f"Required form fields are missing: {', '.join(missing)}.",
                field=f"formData.{missing[0]}",
            )
    return form_data or None


def _configuration(attachment: WorkflowAttachment) -> WorkflowConfiguration | None:
    """Return the configuration of the attachment's model, read with the lock when it was."""
    if WorkflowAttachment.content_type.is_cached(attachment):
        content_type = attachment.content_type
        if ContentType.workflow_configuration.is_cached(content_type):
            # select_related caches None when the model has no configuration; the accessor
            # then raises RelatedObjectDoesNotExist, an AttributeError.
            return getattr(content_type, "workflow_configuration", None)
    return WorkflowConfiguration.objects.filter(content_type_id=attachment.content_type_id).first()


def _apply_object_status(attachment: WorkflowAttachment, obj: Model, outcome: str) -> None:
    """Write the configured completion or rejection value into the object's status field."""
    configuration = _configuration(attachment)
    if configuration is None:
        return
    field_name = configuration.status_field
    value = (
        configuration.completion_status_value
        if outcome == AttachmentStatus.COMPLETED
        else configuration.rejection_status_value
    )
    if not field_name or not value:
        return
    if not any(f.name == field_name for f in obj._meta.concrete_fields):
        # The field was checked when it was configured; the model changed since. The workflow
        # still finishes (as in the seed): log it and leave a trace in the audit trail.
        message = (
            f"{model_label(obj)} has no field '{field_name}'; "
            f"could not write '{value}' on workflow {outcome}."
        )
        logger.warning("%s (attachment %s)", message, attachment.pk)
        save_events(
            [
                _event(
                    attachment,
                    EventType.STATUS_NOT_WRITTEN,
                    None,
                    from_stage=attachment.current_stage,
                    from_pipeline=attachment.current_pipeline,
                    reason=message,
                    details={"status_field": field_name, "value": value, "outcome": outcome},
                )
            ]
        )
        return
    setattr(obj, field_name, value)
    obj.save(update_fields=[field_name])


def _open_stage(
    attachment: WorkflowAttachment,
    obj: Model | None,
    stage: Stage,
    *,
    flow: Any,
    replace_flow: bool,
) -> list[dict[str, int]]:
    """Create the approval steps of ``stage`` and make it the attachment's current stage.

    ``obj`` (the business object) is needed only to open a new flow (``flow`` is None).
    Return the steps given to a substitute (out of office): ``[{"user", "substitute"}]``.
    """
    left_out = None if transitions.self_approval_allowed() else attachment.started_by_id
    steps = approvals.build_steps(stage, attachment.last_step_number + 1, left_out=left_out)
    if flow is None:
        assert obj is not None
        approvals.open_flow(obj, steps, replace_existing=replace_flow)
    else:
        approvals.add_steps(flow, steps)
    attachment.last_step_number += len(steps)
    attachment.current_stage = stage
    attachment.current_pipeline = stage.pipeline
    return approvals.substitutions(steps)


def _check_runnable(stages: list[Stage]) -> None:
    if not stages:
        raise WorkflowValidationError("The workflow has no stages.", field="workflowId")
    for stage in stages:
        if not stage.approvals:
            raise WorkflowValidationError(
                f"Stage '{stage.name_en}' of pipeline '{stage.pipeline.name_en}' "
                "has no approvers configured.",
                field="workflowId",
            )


# --------------------------------------------------------------------------- attach and start


def _next_applying(
    attachment: WorkflowAttachment, stages: list[Stage], actor: Any
) -> tuple[Stage | None, list[WorkflowEvent]]:
    """Return the first of ``stages`` whose condition holds, and a STAGE_SKIPPED per stage
    passed over (recorded in ``skipped_stage_ids``). Stages without a condition cost nothing;
    each condition is one ``EXISTS`` on the object's values now.
    """
    skipped: list[WorkflowEvent] = []
    model = None
    for stage in stages:
        if not stage.condition:
            return stage, skipped
        if model is None:
            model = ContentType.objects.get_for_id(attachment.content_type_id).model_class()
        if condition_holds(model, attachment.object_id, stage.condition):
            return stage, skipped
        attachment.skipped_stage_ids = [*attachment.skipped_stage_ids, stage.pk]
        skipped.append(
            _event(
                attachment,
                EventType.STAGE_SKIPPED,
                actor,
                to_stage=stage,
                to_pipeline=stage.pipeline,
                details={"condition": stage.condition},
            )
        )
    return None, skipped


def _start(
    attachment: WorkflowAttachment,
    obj: Model,
    user: Any,
    *,
    stages: list[Stage],
    replace_flow: bool,
    earlier_events: tuple[WorkflowEvent, ...] = (),
) -> None:
    _check_runnable(stages)
    attachment.skipped_stage_ids = []
    first, skipped = _next_applying(attachment, stages, user)
    if first is None:
        raise WorkflowValidationError(
            "No stage of this workflow applies to this object: every stage's condition is false.",
            field="workflowId",
        )
    attachment.started_by = user
    substituted = _open_stage(attachment, obj, first, flow=None, replace_flow=replace_flow)
    transitions.move(attachment, transitions.Action.START, AttachmentStatus.IN_PROGRESS)
    attachment.started_at = timezone.now()
    is_new = attachment.pk is None
    attachment.save()
    events = [
        *earlier_events,
        _event(
            attachment,
            EventType.STARTED,
            user,
            to_stage=first,
            to_pipeline=first.pipeline,
            details={"substitutions": substituted} if substituted else {},
        ),
        *skipped,
    ]
    transition_state.remember(attachment, events, stages=stages, target=obj, is_new=is_new)
    save_events(events)


def attach_workflow_to_object(
    *,
    obj: Model,
    workflow: Workflow,
    user: Any,
    auto_start: bool = True,
    metadata: dict[str, Any] | None = None,
    disable_clone: bool = False,
) -> WorkflowAttachment:
    """Attach ``workflow`` (cloned unless ``disable_clone``) to ``obj`` and optionally start it.

    An object has at most one live attachment; attaching while one is live is a conflict.
    """
    _require_user(user)
    _require_permission(user, "REQUIRE_PERMISSION_TO_START", "start_workflow")
    if metadata is not None and not isinstance(metadata, dict):
        raise WorkflowValidationError("metadata must be an object.", field="metadata")
    check_json(metadata, "metadata")
    company_id = get_company_id_for_user(user)
    if workflow.company_id != company_id and not user.is_superuser:
        raise NotFoundError("Workflow not found.", field="workflowId")
    if workflow.is_hidden:
        raise WorkflowValidationError(
            "This workflow is the running copy of another attachment.", field="workflowId"
        )
    if workflow.status == WorkflowStatus.DRAFT:
        raise WorkflowValidationError(
            "The workflow is a draft; activate it before attaching it.", field="workflowId"
        )
    if workflow.status == WorkflowStatus.ARCHIVED:
        raise WorkflowValidationError(
            "The workflow is archived and can no longer be attached.", field="workflowId"
        )
    if not workflow.is_active:
        raise WorkflowValidationError("The workflow is not active.", field="workflowId")
    if disable_clone and not can_manage_workflows(user, workflow.company_id):
        # The attachment would run the template itself: only its editors may choose that.
        raise WorkflowPermissionDenied(
            "Only users who may edit the template may run it without a copy.",
            field="disableClone",
        )
    if obj.pk is None:
        raise WorkflowValidationError(
            "Save the object before attaching a workflow.", field="objectId"
        )
    if not is_model_enabled(type(obj)):
        raise WorkflowValidationError(
            f"{model_label(obj)} is not enabled for workflows.", field="model"
        )
    allowed = model_workflow_mapping(type(obj))
    if allowed is not None and workflow.slug not in allowed and workflow.name_en not in allowed:
        raise WorkflowValidationError(
            f"Workflow '{workflow.slug or workflow.name_en}' is not mapped to {model_label(obj)} "
            "in MODEL_WORKFLOW_MAPPINGS.",
            field="workflowId",
        )
    content_type = ContentType.objects.get_for_model(obj)
    try:
        with transaction.atomic():
            earlier = list(
                WorkflowAttachment.objects.select_for_update()
                .filter(content_type=content_type, object_id=str(obj.pk))
                .values_list("status", flat=True)
            )
            if any(status in LIVE_STATUSES for status in earlier):
                raise ConflictError(
                    "This object already has a live workflow; cancel it before attaching another."
                )
            if disable_clone:
                running, stages = workflow, ordered_stages(workflow.pk)
            else:
                # The clone returns its stages in running order, so the template is read once;
                # an unrunnable template fails the check below and the copy is rolled back.
                running, stages = clone_structure(workflow, hidden=True, created_by=user)
            _check_runnable(stages)
            attachment = WorkflowAttachment(
                company_id=workflow.company_id,
                content_type=content_type,
                object_id=str(obj.pk),
                workflow=running,
                metadata=metadata or {},
            )
            attached = _event(attachment, EventType.ATTACHED, user)
            if auto_start:
                # _start saves the attachment: one INSERT of the started row, not INSERT + UPDATE;
                # ATTACHED is inserted with STARTED.
                _start(
                    attachment,
                    obj,
                    user,
                    stages=stages,
                    replace_flow=bool(earlier),
                    earlier_events=(attached,),
                )
            else:
                attachment.save()
                save_events([attached])
            return attachment
    except IntegrityError as error:
        raise ConflictError(
            "This object already has a live workflow; cancel it before attaching another."
        ) from error


@transaction.atomic
def start_workflow(*, obj: Model, user: Any) -> WorkflowAttachment:
    """Start the attached, not yet started workflow of ``obj``."""
    _require_user(user)
    _require_permission(user, "REQUIRE_PERMISSION_TO_START", "start_workflow")
    attachment = _lock_attachment(obj, user, statuses=(AttachmentStatus.NOT_STARTED,))
    _check_start(attachment, user)
    return _start_locked(attachment, obj, user)


@transaction.atomic
def start_attachment(
    *, attachment_id: Any, user: Any, company_id: int | None = None
) -> WorkflowAttachment:
    """Start an attached, not yet started workflow by attachment id."""
    _require_user(user)
    if company_id is not None and cached_company_id(user) is None:
        remember_company_id(user, company_id)
    _require_permission(user, "REQUIRE_PERMISSION_TO_START", "start_workflow")
    attachment = _lock(_attachment_pk(attachment_id), user)
    _check_start(attachment, user)
    target = attachment.target
    if target is None:
        raise NotFoundError("The object of this attachment no longer exists.", field="attachmentId")
    return _start_locked(attachment, target, user)


def _check_start(attachment: WorkflowAttachment, user: Any) -> None:
    """Apply the transition policy to starting ``attachment``."""
    error = transitions.refusal(
        transitions.Action.START,
        attachment.status,
        _actor(attachment, user, transitions.Action.START),
        status_label=attachment.get_status_display(),
    )
    if error is not None:
        raise error


def _start_locked(attachment: WorkflowAttachment, obj: Model, user: Any) -> WorkflowAttachment:
    replace_flow = (
        WorkflowAttachment.objects.filter(
            content_type_id=attachment.content_type_id, object_id=attachment.object_id
        )
        .exclude(pk=attachment.pk)
        .exists()
    )
    _start(
        attachment,
        obj,
        user,
        stages=ordered_stages(attachment.workflow_id),
        replace_flow=replace_flow,
    )
    return attachment


# --------------------------------------------------------------------------- decisions


@dataclass
class _Decision:
    """One decision under way: the locked attachment, the actor's step and the action."""

    action: str
    attachment: WorkflowAttachment
    user: Any
    step: approvals.StepInfo | None
    key: str | None
    known_target: Model | None
    # Events recorded before the decision's own (a timeout before what it causes).
    leading: list[WorkflowEvent] = dataclass_field(default_factory=list)

    def target(self) -> Model:
        """Return the business object (loaded only when a decision writes to it)."""
        if self.known_target is None:
            target = self.attachment.target
            if target is None:
                raise NotFoundError(
                    "The object of this attachment no longer exists.", field="attachmentId"
                )
            self.known_target = target
        return self.known_target

    def event(self, event_type: str, **fields: Any) -> WorkflowEvent:
        return _event(self.attachment, event_type, self.user, **fields)

    def finish(
        self, events: list[WorkflowEvent], *, changed: tuple[str, ...] | None = None
    ) -> WorkflowAttachment:
        """Save the attachment and the events.

        ``changed``: the attachment's only columns the decision changed (besides
        ``updated_at``), when it knows them; the row was read whole under the lock, so the
        other columns already hold the values a full save would write again.
        """
        leading = bool(self.leading)
        events = [*self.leading, *events]
        if self.key:
            events[0].idempotency_key = self.key
            events[0].details = {**(events[0].details or {}), "action": self.action}
        if self.step is not None:
            # Who could act before: lets the inbox publisher tell them the item left their inbox.
            events[0].details = {
                **(events[0].details or {}),
                "approvers_before": list(self.step.approvers),
            }
        if changed is None or leading:  # an earlier event (a timeout) may have changed more
            self.attachment.save()
        else:
            self.attachment.save(update_fields=[*changed, "updated_at"])
        transition_state.remember(self.attachment, events, target=self.known_target)
        save_events(events)
        return self.attachment


def _run_decision(
    action: str,
    body: Callable[[_Decision], WorkflowAttachment],
    *,
    attachment_id: Any,
    user: Any,
    expected_stage: Any = None,
    idempotency_key: str | None = None,
    seen_stage: Any = _UNREAD,
    target: Model | None = None,
) -> WorkflowAttachment:
    """Run one decision: bind it to its step, lock the row by pk, replay or decide.

    The step it was made for is ``expected_stage`` or, without it, the current stage read
    before the lock; when the lock shows another stage the answer is CONFLICT. A repeated
    idempotency key replays the first decision (read under the lock, so concurrent duplicates
    wait for the first and replay it); one used for another attachment or action is CONFLICT.
    """
    _require_user(user)
    key = _clean_key(idempotency_key)
    pk = _attachment_pk(attachment_id)
    if expected_stage is not None:
        bound = _expected_stage_id(expected_stage)
    elif seen_stage is _UNREAD:
        bound = _seen_stage(pk)
    else:
        bound = seen_stage
    try:
        with transaction.atomic():
            attachment = _lock(pk, user)
            if _replayed(user, key, attachment.pk, action):
                return attachment
            step = _check_decision(action, attachment, user, bound)
            return body(_Decision(action, attachment, user, step, key, target))
    except IntegrityError:
        # Two attachments decided at once with one key: the second insert of the key fails.
        used = (
            WorkflowEvent.objects.filter(actor_id=user.pk, idempotency_key=key)
            .values_list("attachment_id", "details")
            .first()
            if key
            else None
        )
        if used is None:
            raise
        _check_key_use(used[0], used[1], (pk, action))
        return WorkflowAttachment.objects.get(pk=pk)


def _stages_if_stage_finished(attachment: WorkflowAttachment, flow_id: int) -> list[Stage] | None:
    """After an approval: None while the flow still has an open step, else the ordered stages.

    One query instead of two (an EXISTS, then the stages to move on with): the open-step test
    rides along as an annotation that has the same value on every stage row.
    """
    stages = list(
        ordered_stages_queryset(attachment.workflow_id).annotate(
            flow_is_open=approvals.open_rows_exist(flow_id)
        )
    )
    if not stages:  # every stage was removed from the workflow: ask the flow directly
        return None if approvals.has_open_rows(flow_id) else []
    return None if stages[0].flow_is_open else cast(list[Stage], stages)


def _advance(decision: _Decision, flow: Any, stages: list[Stage]) -> list[WorkflowEvent]:
    """Move past a fully approved stage: next stage, next pipeline's first stage, or complete.

    Fails closed: a current stage that is no longer among the workflow's stages completes
    nothing (INVALID_STATE), so no stage is ever skipped.
    """
    attachment = decision.attachment
    position = stage_position(stages, attachment.current_stage_id)
    if position is None:
        raise InvalidStateError(
            "The current stage is no longer part of the workflow; "
            "an administrator has to cancel it."
        )
    from_stage, from_pipeline = attachment.current_stage, attachment.current_pipeline
    target, events = _next_applying(attachment, stages[position + 1 :], decision.user)
    if target is not None:
        substituted = _open_stage(attachment, None, target, flow=flow, replace_flow=False)
        if from_pipeline is None or target.pipeline_id != from_pipeline.pk:
            events.append(
                decision.event(
                    EventType.PIPELINE_MOVED,
                    from_stage=from_stage,
                    to_stage=target,
                    from_pipeline=from_pipeline,
                    to_pipeline=target.pipeline,
                )
            )
        events.append(
            decision.event(
                EventType.STAGE_MOVED,
                from_stage=from_stage,
                to_stage=target,
                from_pipeline=from_pipeline,
                to_pipeline=target.pipeline,
                details={"substitutions": substituted} if substituted else {},
            )
        )
        return events
    transitions.move(attachment, decision.action, AttachmentStatus.COMPLETED)
    attachment.completed_at = timezone.now()
    attachment.current_stage = None
    attachment.current_pipeline = None
    _apply_object_status(attachment, decision.target(), AttachmentStatus.COMPLETED)
    return [
        *events,
        decision.event(
            EventType.COMPLETED,
            from_stage=from_stage,
            from_pipeline=from_pipeline,
        ),
    ]


def _approve(
    decision: _Decision,
    *,
    form_data: dict[str, Any] | None,
    comment: str,
    timestamp: str | None = None,
) -> WorkflowAttachment:
    step, attachment, user = decision.step, decision.attachment, decision.user
    assert step is not None
    comment = _clean_reason(comment, required=False, field_name="comment")
    stage, pipeline = attachment.current_stage, attachment.current_pipeline
    if step.behaviour == ApprovalBehaviour.CHECK_IN_VERIFY and not step.is_checked_in:
        approvals.approve(step, user=user, comment=comment, form_data=None, timestamp=timestamp)
        return decision.finish(
            [
                decision.event(
                    EventType.CHECKED_IN, from_stage=stage, from_pipeline=pipeline, reason=comment
                )
            ]
        )
    form_data = _check_form(step, form_data)
    approvals.approve(
        step,
        user=user,
        comment=comment,
        form_data=form_data,
        last_step=attachment.last_step_number,
    )
    events = [
        decision.event(
            EventType.APPROVED,
            from_stage=stage,
            from_pipeline=pipeline,
            reason=comment,
            form_data=form_data,
        )
    ]
    stages = _stages_if_stage_finished(attachment, step.flow_id)
    if stages:
        transition_state.remember_stages(attachment, stages)
    if stages is not None:
        events.extend(_advance(decision, step.flow, stages))
    return decision.finish(events)


def _reject(decision: _Decision, *, reason: str) -> WorkflowAttachment:
    attachment, user, step = decision.attachment, decision.user, decision.step
    assert step is not None
    approvals.reject(step, user=user, reason=reason)
    transitions.move(attachment, decision.action, AttachmentStatus.REJECTED)
    attachment.completed_at = timezone.now()
    attachment.metadata = {
        **attachment.metadata,
        "rejection_reason": reason,
        "rejected_by": user.pk if user is not None else None,
    }
    _apply_object_status(attachment, decision.target(), AttachmentStatus.REJECTED)
    return decision.finish(
        [
            decision.event(
                EventType.REJECTED,
                from_stage=attachment.current_stage,
                from_pipeline=attachment.current_pipeline,
                reason=reason,
            )
        ]
    )


def _user_with_company_query(pk: int) -> Any:
    # The user's company is read in the same query: callers check it next.
    return (
        get_user_model()
        .objects.annotate(membership_company_id=company_id_subquery(OuterRef("pk")))
        .filter(pk=pk)
    )


# Read by every delegation and reassignment: compiled once per database (and user model).
_user_with_company_statement = PrecompiledQuery(
    _user_with_company_query, variant=lambda: settings.AUTH_USER_MODEL
)


def _resolve_user(value: Any, field_name: str) -> Any:
    User = get_user_model()
    if isinstance(value, User):
        return value
    try:
        found = _user_with_company_statement.fetch(pk=int(value))
    except (TypeError, ValueError):
        found = []
    if len(found) != 1:
        raise NotFoundError("User not found.", field=field_name)
    user = found[0]
    remember_company_id(user, user.membership_company_id)
    return user


def _delegate(decision: _Decision, *, to_user: Any, reason: str) -> WorkflowAttachment:
    attachment, user, step = decision.attachment, decision.user, decision.step
    assert step is not None
    delegate = _resolve_user(to_user, "toUserId")
    if get_company_id_for_user(delegate) != attachment.company_id:
        raise NotFoundError("User not found.", field="toUserId")
    if not delegate.is_active:
        raise WorkflowValidationError("The delegate is not an active user.", field="toUserId")
    if delegate.pk == user.pk:
        raise WorkflowValidationError("You cannot delegate a step to yourself.", field="toUserId")
    if delegate.pk == attachment.started_by_id and not transitions.self_approval_allowed():
        raise WorkflowValidationError(
            "You cannot delegate a step to the user who started the workflow.", field="toUserId"
        )
    if delegate.pk in step.approvers:  # every current approver was read with the step
        raise WorkflowValidationError(
            "This user already has a share of the current step.", field="toUserId"
        )
    approvals.delegate(step, user=user, to_user=delegate, reason=reason)
    return decision.finish(
        [
            decision.event(
                EventType.DELEGATED,
                from_stage=attachment.current_stage,
                from_pipeline=attachment.current_pipeline,
                delegate=delegate,
                reason=reason,
            )
        ],
        changed=(),  # a delegation changes the step, not the attachment
    )


def _resolve_target_stage(stages: list[Stage], stage: Any) -> Stage:
    stage_id = stage.pk if isinstance(stage, Stage) else stage
    try:
        stage_id = int(stage_id)
    except (TypeError, ValueError):
        raise NotFoundError("Stage not found.", field="stageId") from None
    for candidate in stages:
        if candidate.pk == stage_id:
            return candidate
    for candidate in stages:  # the template stage this attachment's copy was cloned from
        if candidate.cloned_from_id == stage_id:
            return candidate
    raise NotFoundError("That stage is not part of this workflow.", field="stageId")


def _request_resubmission(decision: _Decision, *, stage: Any, reason: str) -> WorkflowAttachment:
    attachment, user, step = decision.attachment, decision.user, decision.step
    assert step is not None
    stages = ordered_stages(attachment.workflow_id)
    transition_state.remember_stages(attachment, stages)
    target = _resolve_target_stage(stages, stage)
    current_position = stage_position(stages, attachment.current_stage_id)
    target_position = stage_position(stages, target.pk)
    if current_position is None or target_position is None or target_position > current_position:
        raise WorkflowValidationError(
            "Resubmission must go back to the current stage or an earlier one.", field="stageId"
        )
    from_stage, from_pipeline = attachment.current_stage, attachment.current_pipeline
    approvals.close_for_resubmission(step, user=user, reason=reason)
    # Stages from the target on are decided afresh: their conditions are read again.
    later = {stage.pk for stage in stages[target_position:]}
    attachment.skipped_stage_ids = [pk for pk in attachment.skipped_stage_ids if pk not in later]
    _open_stage(attachment, None, target, flow=step.flow, replace_flow=False)
    return decision.finish(
        [
            decision.event(
                EventType.RESUBMISSION_REQUESTED,
                from_stage=from_stage,
                from_pipeline=from_pipeline,
                to_stage=target,
                to_pipeline=target.pipeline,
                reason=reason,
            )
        ]
    )


def _cancel(decision: _Decision, *, reason: str) -> WorkflowAttachment:
    attachment = decision.attachment
    if attachment.status == AttachmentStatus.IN_PROGRESS:
        flow = approvals.get_flow(attachment.content_type_id, attachment.object_id)
        if flow is not None:
            approvals.cancel_open_rows(flow.pk)
    events = [
        decision.event(
            EventType.CANCELLED,
            from_stage=attachment.current_stage,
            from_pipeline=attachment.current_pipeline,
            reason=reason,
        )
    ]
    transitions.move(attachment, decision.action, AttachmentStatus.CANCELLED)
    attachment.completed_at = timezone.now()
    return decision.finish(events)


def resolve_assignee(
    company_id: int | None, *, to_user: Any = None, to_role: Any = None
) -> tuple[Any, Any]:
    """Return ``(user, None)`` or ``(None, role)``: an active user or a role of the company.

    Exactly one of ``to_user`` / ``to_role`` (objects or ids). A user or a role of another
    company is NOT_FOUND, like an unknown one (a role belongs to the companies of its
    members); a role needs active members, all of the company.
    """
    if (to_user in (None, "")) == (to_role in (None, "")):
        raise WorkflowValidationError("Name exactly one user or one role.", field="toUserId")
    if to_user not in (None, ""):
        target = _resolve_user(to_user, "toUserId")
        if get_company_id_for_user(target) != company_id:
            raise NotFoundError("User not found.", field="toUserId")
        if not target.is_active:
            raise WorkflowValidationError("The user is not active.", field="toUserId")
        return target, None
    role_id = parse_id(
        to_role.pk if isinstance(to_role, Model) else to_role, "toRoleId", what="Role"
    )
    if not company_roles(company_id).filter(pk=role_id).exists():
        raise NotFoundError("Role not found.", field="toRoleId")
    check_roles({role_id: "toRoleId"}, company_id)
    return None, role_model().objects.get(pk=role_id)


def _reassign(
    decision: _Decision, *, to_user: Any, to_role: Any, reason: str
) -> WorkflowAttachment:
    attachment, user = decision.attachment, decision.user
    target_user, target_role = resolve_assignee(
        attachment.company_id, to_user=to_user, to_role=to_role
    )
    steps = approvals.current_steps(attachment.content_type_id, attachment.object_id)
    steps = [step for step in steps if step.stage_id == attachment.current_stage_id]
    if not steps:
        raise InvalidStateError("The current stage has no open step to reassign.")
    before = list(steps[0].approvers)
    if target_user is not None and before == [target_user.pk]:
        raise WorkflowValidationError(
            "The step is already assigned to this user alone.", field="toUserId"
        )
    if (
        target_user is not None
        and target_user.pk == attachment.started_by_id
        and not transitions.self_approval_allowed()
    ):
        raise WorkflowValidationError(
            "You cannot reassign a step to the user who started the workflow.", field="toUserId"
        )
    after = approvals.hand_over(
        steps,
        to_user=target_user,
        to_role=target_role,
        escalated=False,
        user=user,
        reason=reason,
        left_out=None if transitions.self_approval_allowed() else attachment.started_by_id,
    )
    details: dict[str, Any] = {"approvers_before": before, "approvers_after": after}
    if target_role is not None:
        details["to_role"] = target_role.pk
    told = sorted(set(before) | set(after))
    actor_name = user.get_full_name() or user.first_name or user.username
    transaction.on_commit(
        lambda: send_step_emails(
            "reassigned",
            attachment_id=attachment.pk,
            user_ids=told,
            reason=reason,
            actor_name=actor_name,
        )
    )
    return decision.finish(
        [
            decision.event(
                EventType.REASSIGNED,
                from_stage=attachment.current_stage,
                from_pipeline=attachment.current_pipeline,
                delegate=target_user,
                reason=reason,
                details=details,
            )
        ]
    )


def decide_on_attachment(
    *,
    action: str,
    attachment_id: Any,
    user: Any,
    company_id: int | None = None,
    expected_stage: Any = None,
    idempotency_key: str | None = None,
    form_data: dict[str, Any] | None = None,
    comment: str = "",
    reason: str = "",
    to_user: Any = None,
    to_role: Any = None,
    stage: Any = None,
    timestamp: str | None = None,
    _seen_stage: Any = _UNREAD,
    _target: Model | None = None,
) -> WorkflowAttachment:
    """Take one decision (a ``transitions.Action`` other than start) on an attachment by id.

    The attachment row is locked by primary key; ``company_id`` is the actor's company when
    the caller already knows it. ``expected_stage`` is the running copy's stage (or its id)
    the actor saw: when the attachment has moved on, the answer is CONFLICT and nothing is
    written. Without it, the stage read before the lock plays that part.
    """
    _require_user(user)
    if company_id is not None and cached_company_id(user) is None:
        remember_company_id(user, company_id)
    if action in (
        transitions.Action.REJECT,
        transitions.Action.REQUEST_RESUBMISSION,
        transitions.Action.REASSIGN,
    ):
        reason = _clean_reason(reason, required=True)
    elif action in (transitions.Action.DELEGATE, transitions.Action.CANCEL):
        reason = _clean_reason(reason, required=False)
    bodies: dict[str, Callable[[_Decision], WorkflowAttachment]] = {
        transitions.Action.APPROVE: lambda d: _approve(
            d, form_data=form_data, comment=comment, timestamp=timestamp
        ),
        transitions.Action.CHECK_IN: lambda d: _approve(
            d, form_data=None, comment=comment, timestamp=timestamp
        ),
        transitions.Action.VERIFY: lambda d: _approve(d, form_data=form_data, comment=comment),
        transitions.Action.REJECT: lambda d: _reject(d, reason=reason),
        transitions.Action.DELEGATE: lambda d: _delegate(d, to_user=to_user, reason=reason),
        transitions.Action.REQUEST_RESUBMISSION: lambda d: _request_resubmission(
            d, stage=stage, reason=reason
        ),
        transitions.Action.CANCEL: lambda d: _cancel(d, reason=reason),
        transitions.Action.REASSIGN: lambda d: _reassign(
            d, to_user=to_user, to_role=to_role, reason=reason
        ),
    }
    if action not in bodies:
        raise WorkflowValidationError(f"Unknown decision '{action}'.", field="action")
    return _run_decision(
        action,
        bodies[action],
        attachment_id=attachment_id,
        user=user,
        expected_stage=expected_stage,
        idempotency_key=idempotency_key,
        seen_stage=_seen_stage,
        target=_target,
    )


def reassign_stage(
    *,
    attachment_id: Any,
    user: Any,
    reason: str,
    to_user: Any = None,
    to_role: Any = None,
    expected_stage: Any = None,
    idempotency_key: str | None = None,
    company_id: int | None = None,
) -> WorkflowAttachment:
    """Hand the current step to another active user or a role of the company (managers only).

    The step's current holders lose it (their rows are cancelled), the new holders get the
    same step without a deadline; REASSIGNED records who held it before and after.
    ``expected_stage`` binds the reassignment to the step the manager saw (else CONFLICT).
    """
    return decide_on_attachment(
        action=transitions.Action.REASSIGN,
        attachment_id=attachment_id,
        user=user,
        company_id=company_id,
        reason=reason,
        to_user=to_user,
        to_role=to_role,
        expected_stage=expected_stage,
        idempotency_key=idempotency_key,
    )


def _decide_on_object(
    action: str, *, obj: Model, user: Any, **arguments: Any
) -> WorkflowAttachment:
    """Find the live attachment of ``obj`` (reading its step before the lock) and decide."""
    _require_user(user)
    attachment_id, seen_stage = _find_attachment(obj, user)
    return decide_on_attachment(
        action=action,
        attachment_id=attachment_id,
        user=user,
        _seen_stage=seen_stage,
        _target=obj,
        **arguments,
    )


def approve_stage(
    *,
    obj: Model,
    user: Any,
    form_data: dict[str, Any] | None = None,
    comment: str = "",
    idempotency_key: str | None = None,
    timestamp: str | None = None,
    expected_stage: Any = None,
) -> WorkflowAttachment:
    """Approve the user's current step; when the stage is complete, move on or complete.

    On a ``check_in_verify`` step the first call checks in and the second verifies.
    ``expected_stage`` (a stage of the running copy, or its id) binds the decision to the
    step the user saw: if the workflow has moved on, nothing happens (CONFLICT).
    """
    return _decide_on_object(
        transitions.Action.APPROVE,
        obj=obj,
        user=user,
        form_data=form_data,
        comment=comment,
        idempotency_key=idempotency_key,
        timestamp=timestamp,
        expected_stage=expected_stage,
    )


def check_in_stage(
    *,
    obj: Model,
    user: Any,
    comment: str = "",
    idempotency_key: str | None = None,
    timestamp: str | None = None,
    expected_stage: Any = None,
) -> WorkflowAttachment:
    """Check in on a ``check_in_verify`` step (its first phase)."""
    return _decide_on_object(
        transitions.Action.CHECK_IN,
        obj=obj,
        user=user,
        comment=comment,
        idempotency_key=idempotency_key,
        timestamp=timestamp,
        expected_stage=expected_stage,
    )


def verify_stage(
    *,
    obj: Model,
    user: Any,
    form_data: dict[str, Any] | None = None,
    comment: str = "",
    idempotency_key: str | None = None,
    expected_stage: Any = None,
) -> WorkflowAttachment:
    """Verify a ``check_in_verify`` step after checking in (its second phase)."""
    return _decide_on_object(
        transitions.Action.VERIFY,
        obj=obj,
        user=user,
        form_data=form_data,
        comment=comment,
        idempotency_key=idempotency_key,
        expected_stage=expected_stage,
    )


def reject_stage(
    *,
    obj: Model,
    user: Any,
    reason: str,
    idempotency_key: str | None = None,
    expected_stage: Any = None,
) -> WorkflowAttachment:
    """Reject the workflow at the current stage (kept for the record)."""
    reason = _clean_reason(reason, required=True)
    return _decide_on_object(
        transitions.Action.REJECT,
        obj=obj,
        user=user,
        reason=reason,
        idempotency_key=idempotency_key,
        expected_stage=expected_stage,
    )


def delegate_stage(
    *,
    obj: Model,
    user: Any,
    to_user: Any,
    reason: str = "",
    idempotency_key: str | None = None,
    expected_stage: Any = None,
) -> WorkflowAttachment:
    """Hand the user's current step to an active user of the same company."""
    return _decide_on_object(
        transitions.Action.DELEGATE,
        obj=obj,
        user=user,
        to_user=to_user,
        reason=reason,
        idempotency_key=idempotency_key,
        expected_stage=expected_stage,
    )


def request_resubmission(
    *,
    obj: Model,
    user: Any,
    stage: Any,
    reason: str,
    idempotency_key: str | None = None,
    expected_stage: Any = None,
) -> WorkflowAttachment:
    """Send the workflow back to the current or an earlier stage; its approvals start afresh."""
    reason = _clean_reason(reason, required=True)
    return _decide_on_object(
        transitions.Action.REQUEST_RESUBMISSION,
        obj=obj,
        user=user,
        stage=stage,
        reason=reason,
        idempotency_key=idempotency_key,
        expected_stage=expected_stage,
    )


def cancel_workflow(
    *, obj: Model, user: Any, reason: str = "", expected_stage: Any = None
) -> WorkflowAttachment:
    """Cancel the live workflow of ``obj``; its open approval steps are cancelled too."""
    return _decide_on_object(
        transitions.Action.CANCEL,
        obj=obj,
        user=user,
        reason=reason,
        expected_stage=expected_stage,
    )
