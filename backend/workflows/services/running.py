"""Run workflows: attach, start, approve, reject, delegate, send back, cancel.

Every public function here runs in one transaction. Decisions first lock the attachment
row (``select_for_update``) and re-read its state, so concurrent decisions on the same
step are serialised: exactly one advances it, the others see the new state and fail
with ``ConflictError`` or ``InvalidStateError``. If anything fails, nothing is written.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import ForeignKey, Model, OuterRef
from django.utils import timezone

from backend.workflows import approvals
from backend.workflows.approval_config import form_model, form_required_fields, role_member_field
from backend.workflows.companies import (
    cached_company_id,
    company_id_subquery,
    get_company_id_for_user,
    remember_company_id,
)
from backend.workflows.constants import (
    LIVE_STATUSES,
    ApprovalBehaviour,
    ApprovalType,
    AttachmentStatus,
    EventType,
    RoleSelectionStrategy,
    WorkflowStatus,
)
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
    NotAnApproverError,
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
from backend.workflows.selectors import ordered_stages, ordered_stages_queryset, stage_position
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


def _replayed(user: Any, idempotency_key: str | None) -> WorkflowAttachment | None:
    """Return the attachment of an earlier decision with the same key by the same user."""
    if not idempotency_key:
        return None
    if len(idempotency_key) > 100:
        raise WorkflowValidationError(
            "idempotency_key is longer than 100 characters.", field="idempotencyKey"
        )
    check_text(idempotency_key, "idempotencyKey")
    event = (
        WorkflowEvent.objects.filter(actor_id=user.pk, idempotency_key=idempotency_key)
        .select_related("attachment")
        .first()
    )
    return event.attachment if event else None


def _lock_attachment(obj: Model, user: Any, *, statuses: tuple[str, ...]) -> WorkflowAttachment:
    """Lock and return the live attachment of ``obj`` for ``user``'s company.

    One query locks the row and also reads the current stage and pipeline, the model's
    ``WorkflowConfiguration`` (used on completion and rejection) and, unless this user object
    already knows it, the user's company. Only the attachment row is locked (``of=self``).
    """
    content_type = ContentType.objects.get_for_model(obj)
    queryset = (
        WorkflowAttachment.objects.select_for_update(of=("self",))
        .select_related("current_stage", "current_pipeline", "content_type__workflow_configuration")
        .filter(content_type=content_type, object_id=str(obj.pk))
    )
    company_id = cached_company_id(user)
    if company_id is None:
        queryset = queryset.annotate(actor_company_id=company_id_subquery(user.pk))
    attachments = list(queryset.order_by("-id")[:2])
    if attachments and company_id is None:
        # ``actor_company_id`` is the annotation added above, unknown to the model's type.
        company_id = remember_company_id(user, attachments[0].actor_company_id)  # type: ignore[attr-defined]
    attachments = [a for a in attachments if a.company_id == company_id or user.is_superuser]
    if not attachments:
        raise NotFoundError("No workflow is attached to this object.")
    attachment = next((a for a in attachments if a.status in LIVE_STATUSES), attachments[0])
    # After waiting for the lock, PostgreSQL returns the attachment row as updated by the
    # transaction it waited for, but outer-joined rows whose key changed come back NULL:
    # drop those so they load from the new key.
    for name in ("current_stage", "current_pipeline"):
        field = cast(ForeignKey, WorkflowAttachment._meta.get_field(name))
        if field.is_cached(attachment) and getattr(
            field.get_cached_value(attachment), "pk", None
        ) != getattr(attachment, field.attname):
            field.delete_cached_value(attachment)
    if attachment.status not in statuses:
        raise InvalidStateError(
            f"The workflow is {attachment.get_status_display().lower()}; "
            "this action is not possible now."
        )
    return attachment


def attachment_target_for_user(attachment_id: Any, user: Any) -> Model:
    """Return the business object of an attachment the user's company owns (for id-based callers)."""
    _require_user(user)
    attachment = (
        WorkflowAttachment.objects.select_related("content_type")
        .filter(pk=parse_id(attachment_id, "attachmentId", what="Workflow attachment"))
        .first()
    )
    if attachment is None or (
        attachment.company_id != get_company_id_for_user(user) and not user.is_superuser
    ):
        raise NotFoundError("Workflow attachment not found.", field="attachmentId")
    target = attachment.target
    if target is None:
        raise NotFoundError("The object of this attachment no longer exists.", field="attachmentId")
    return target


def _user_is_entitled(attachment: WorkflowAttachment, flow_id: int | None, user: Any) -> bool:
    """Tell whether ``user`` took part in this run: held or acted on one of its approval rows,
    or is an approver of the current or an earlier stage.

    Such a user who holds no current step lost a race or acted on a stale view: the stage
    moved on or was sent back, or the package deleted the unused shares of an ``anyone`` step.
    """
    if attachment.current_stage_id is None:
        return False
    stages = ordered_stages(attachment.workflow_id)
    if flow_id is not None and approvals.user_had_row_for_stages(
        flow_id, [stage.pk for stage in stages], user
    ):
        return True
    position = stage_position(stages, attachment.current_stage_id)
    reached = stages[: position + 1] if position is not None else []
    role_ids = set()
    for stage in reached:
        for approval in stage.approvals or []:
            if approval["approval_type"] == ApprovalType.USER:
                if approval["approval_user"] == user.pk:
                    return True
            elif approval.get("role_selection_strategy") != RoleSelectionStrategy.ROUND_ROBIN:
                role_ids.add(approval["user_role"])
    return bool(role_ids) and (
        get_user_model()
        .objects.filter(pk=user.pk, **{f"{role_member_field()}__in": role_ids})
        .exists()
    )


def _current_step(attachment: WorkflowAttachment, user: Any) -> approvals.StepInfo:
    """Return the approval step ``user`` may act on now, or explain why there is none."""
    step = approvals.current_step_for_user(attachment.content_type_id, attachment.object_id, user)
    if step is not None:
        return step
    flow = approvals.get_flow(attachment.content_type_id, attachment.object_id)
    if _user_is_entitled(attachment, flow.pk if flow else None, user):
        raise ConflictError(
            "This step has already been decided or is no longer waiting for you; "
            "reload the workflow and try again."
        )
    raise NotAnApproverError("You are not an approver of the current stage.")


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
        form = form_model().objects.filter(pk=step.required_form).first()
        missing = [
            name
            for name in (form_required_fields(form) if form else [])
            if form_data.get(name) in (None, "", [])
        ]
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
    attachment: WorkflowAttachment, obj: Model, stage: Stage, *, flow: Any, replace_flow: bool
) -> None:
    """Create the approval steps of ``stage`` and make it the attachment's current stage."""
    steps = approvals.build_steps(stage, attachment.last_step_number + 1)
    if flow is None:
        approvals.open_flow(obj, steps, replace_existing=replace_flow)
    else:
        approvals.add_steps(flow, steps)
    attachment.last_step_number += len(steps)
    attachment.current_stage = stage
    attachment.current_pipeline = stage.pipeline


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


def _start(
    attachment: WorkflowAttachment,
    obj: Model,
    user: Any,
    *,
    stages: list[Stage],
    replace_flow: bool,
) -> None:
    _check_runnable(stages)
    first = stages[0]
    _open_stage(attachment, obj, first, flow=None, replace_flow=replace_flow)
    attachment.status = AttachmentStatus.IN_PROGRESS
    attachment.started_by = user
    attachment.started_at = timezone.now()
    attachment.save()
    save_events(
        [
            _event(
                attachment,
                EventType.STARTED,
                user,
                to_stage=first,
                to_pipeline=first.pipeline,
            )
        ]
    )


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
            if auto_start:
                # _start saves the attachment: one INSERT of the started row, not INSERT + UPDATE.
                _start(attachment, obj, user, stages=stages, replace_flow=bool(earlier))
            else:
                attachment.save()
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


def _advance(
    attachment: WorkflowAttachment, obj: Model, user: Any, flow: Any, stages: list[Stage]
) -> list[WorkflowEvent]:
    """Move past a fully approved stage: next stage, next pipeline's first stage, or complete."""
    position = stage_position(stages, attachment.current_stage_id)
    from_stage, from_pipeline = attachment.current_stage, attachment.current_pipeline
    if position is not None and position + 1 < len(stages):
        target = stages[position + 1]
        _open_stage(attachment, obj, target, flow=flow, replace_flow=False)
        events = []
        if from_pipeline is None or target.pipeline_id != from_pipeline.pk:
            events.append(
                _event(
                    attachment,
                    EventType.PIPELINE_MOVED,
                    user,
                    from_stage=from_stage,
                    to_stage=target,
                    from_pipeline=from_pipeline,
                    to_pipeline=target.pipeline,
                )
            )
        events.append(
            _event(
                attachment,
                EventType.STAGE_MOVED,
                user,
                from_stage=from_stage,
                to_stage=target,
                from_pipeline=from_pipeline,
                to_pipeline=target.pipeline,
            )
        )
        return events
    attachment.status = AttachmentStatus.COMPLETED
    attachment.completed_at = timezone.now()
    attachment.current_stage = None
    attachment.current_pipeline = None
    _apply_object_status(attachment, obj, AttachmentStatus.COMPLETED)
    return [
        _event(
            attachment,
            EventType.COMPLETED,
            user,
            from_stage=from_stage,
            from_pipeline=from_pipeline,
        )
    ]


def _decide(
    *,
    obj: Model,
    user: Any,
    idempotency_key: str | None,
) -> tuple[WorkflowAttachment | None, WorkflowAttachment | None, approvals.StepInfo | None]:
    """Common opening of every decision: auth, replay, lock, find the user's step."""
    _require_user(user)
    replay = _replayed(user, idempotency_key)
    if replay is not None:
        if (replay.content_type_id, replay.object_id) != (
            ContentType.objects.get_for_model(obj).pk,
            str(obj.pk),
        ):
            raise ConflictError(
                "This idempotency key was already used for a decision on another object.",
                field="idempotencyKey",
            )
        return replay, None, None
    _require_permission(user, "REQUIRE_PERMISSION_TO_APPROVE", "approve_workflow")
    attachment = _lock_attachment(obj, user, statuses=(AttachmentStatus.IN_PROGRESS,))
    return None, attachment, _current_step(attachment, user)


def _finish_decision(
    attachment: WorkflowAttachment,
    events: list[WorkflowEvent],
    key: str | None,
    step: approvals.StepInfo,
) -> None:
    if key:
        events[0].idempotency_key = key
    # Who could act before: lets the inbox publisher tell them the item left their inbox.
    events[0].details = {**(events[0].details or {}), "approvers_before": list(step.approvers)}
    attachment.save()
    save_events(events)


def _approve(
    attachment: WorkflowAttachment,
    step: approvals.StepInfo,
    *,
    obj: Model,
    user: Any,
    form_data: dict[str, Any] | None,
    comment: str,
    idempotency_key: str | None,
    timestamp: str | None = None,
) -> WorkflowAttachment:
    comment = _clean_reason(comment, required=False, field_name="comment")
    stage, pipeline = attachment.current_stage, attachment.current_pipeline
    if step.behaviour == ApprovalBehaviour.CHECK_IN_VERIFY and not step.is_checked_in:
        approvals.approve(step.row, user=user, comment=comment, form_data=None, timestamp=timestamp)
        events = [
            _event(
                attachment,
                EventType.CHECKED_IN,
                user,
                from_stage=stage,
                from_pipeline=pipeline,
                reason=comment,
            )
        ]
        _finish_decision(attachment, events, idempotency_key, step)
        return attachment
    form_data = _check_form(step, form_data)
    approvals.approve(step.row, user=user, comment=comment, form_data=form_data)
    events = [
        _event(
            attachment,
            EventType.APPROVED,
            user,
            from_stage=stage,
            from_pipeline=pipeline,
            reason=comment,
            form_data=form_data,
        )
    ]
    stages = _stages_if_stage_finished(attachment, step.row.flow_id)
    if stages is not None:
        events.extend(_advance(attachment, obj, user, step.row.flow, stages))
    _finish_decision(attachment, events, idempotency_key, step)
    return attachment


@transaction.atomic
def approve_stage(
    *,
    obj: Model,
    user: Any,
    form_data: dict[str, Any] | None = None,
    comment: str = "",
    idempotency_key: str | None = None,
    timestamp: str | None = None,
) -> WorkflowAttachment:
    """Approve the user's current step; when the stage is complete, move on or complete.

    On a ``check_in_verify`` step the first call checks in and the second verifies.
    """
    replay, attachment, step = _decide(obj=obj, user=user, idempotency_key=idempotency_key)
    if replay is not None:
        return replay
    assert attachment is not None and step is not None
    return _approve(
        attachment,
        step,
        obj=obj,
        user=user,
        form_data=form_data,
        comment=comment,
        idempotency_key=idempotency_key,
        timestamp=timestamp,
    )


@transaction.atomic
def check_in_stage(
    *,
    obj: Model,
    user: Any,
    comment: str = "",
    idempotency_key: str | None = None,
    timestamp: str | None = None,
) -> WorkflowAttachment:
    """Check in on a ``check_in_verify`` step (its first phase)."""
    replay, attachment, step = _decide(obj=obj, user=user, idempotency_key=idempotency_key)
    if replay is not None:
        return replay
    assert attachment is not None and step is not None
    if step.behaviour != ApprovalBehaviour.CHECK_IN_VERIFY:
        raise InvalidStateError("The current step is not a check-in / verify step.")
    if step.is_checked_in:
        raise InvalidStateError("You have already checked in on this step; verify it next.")
    return _approve(
        attachment,
        step,
        obj=obj,
        user=user,
        form_data=None,
        comment=comment,
        idempotency_key=idempotency_key,
        timestamp=timestamp,
    )


@transaction.atomic
def verify_stage(
    *,
    obj: Model,
    user: Any,
    form_data: dict[str, Any] | None = None,
    comment: str = "",
    idempotency_key: str | None = None,
) -> WorkflowAttachment:
    """Verify a ``check_in_verify`` step after checking in (its second phase)."""
    replay, attachment, step = _decide(obj=obj, user=user, idempotency_key=idempotency_key)
    if replay is not None:
        return replay
    assert attachment is not None and step is not None
    if step.behaviour != ApprovalBehaviour.CHECK_IN_VERIFY:
        raise InvalidStateError("The current step is not a check-in / verify step.")
    if not step.is_checked_in:
        raise InvalidStateError("Check in on this step before verifying it.")
    return _approve(
        attachment,
        step,
        obj=obj,
        user=user,
        form_data=form_data,
        comment=comment,
        idempotency_key=idempotency_key,
    )


@transaction.atomic
def reject_stage(
    *, obj: Model, user: Any, reason: str, idempotency_key: str | None = None
) -> WorkflowAttachment:
    """Reject the workflow at the current stage (kept for the record)."""
    reason = _clean_reason(reason, required=True)
    replay, attachment, step = _decide(obj=obj, user=user, idempotency_key=idempotency_key)
    if replay is not None:
        return replay
    assert attachment is not None and step is not None
    approvals.reject(step.row, user=user, reason=reason)
    attachment.status = AttachmentStatus.REJECTED
    attachment.completed_at = timezone.now()
    attachment.metadata = {
        **attachment.metadata,
        "rejection_reason": reason,
        "rejected_by": user.pk,
    }
    _apply_object_status(attachment, obj, AttachmentStatus.REJECTED)
    events = [
        _event(
            attachment,
            EventType.REJECTED,
            user,
            from_stage=attachment.current_stage,
            from_pipeline=attachment.current_pipeline,
            reason=reason,
        )
    ]
    _finish_decision(attachment, events, idempotency_key, step)
    return attachment


def _resolve_user(value: Any, field_name: str) -> Any:
    User = get_user_model()
    if isinstance(value, User):
        return value
    try:
        # The user's company is read in the same query: callers check it next.
        user = User.objects.annotate(membership_company_id=company_id_subquery(OuterRef("pk"))).get(
            pk=int(value)
        )
    except (TypeError, ValueError, User.DoesNotExist):
        raise NotFoundError("User not found.", field=field_name) from None
    remember_company_id(user, user.membership_company_id)
    return user


@transaction.atomic
def delegate_stage(
    *, obj: Model, user: Any, to_user: Any, reason: str = "", idempotency_key: str | None = None
) -> WorkflowAttachment:
    """Hand the user's current step to an active user of the same company."""
    reason = _clean_reason(reason, required=False)
    replay, attachment, step = _decide(obj=obj, user=user, idempotency_key=idempotency_key)
    if replay is not None:
        return replay
    assert attachment is not None and step is not None
    delegate = _resolve_user(to_user, "toUserId")
    if get_company_id_for_user(delegate) != attachment.company_id:
        raise NotFoundError("User not found.", field="toUserId")
    if not delegate.is_active:
        raise WorkflowValidationError("The delegate is not an active user.", field="toUserId")
    if delegate.pk == user.pk:
        raise WorkflowValidationError("You cannot delegate a step to yourself.", field="toUserId")
    if approvals.current_row_for_user(attachment.content_type_id, attachment.object_id, delegate):
        raise WorkflowValidationError(
            "This user already has a share of the current step.", field="toUserId"
        )
    approvals.delegate(step.row, user=user, to_user=delegate, reason=reason)
    events = [
        _event(
            attachment,
            EventType.DELEGATED,
            user,
            from_stage=attachment.current_stage,
            from_pipeline=attachment.current_pipeline,
            delegate=delegate,
            reason=reason,
        )
    ]
    _finish_decision(attachment, events, idempotency_key, step)
    return attachment


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


@transaction.atomic
def request_resubmission(
    *, obj: Model, user: Any, stage: Any, reason: str, idempotency_key: str | None = None
) -> WorkflowAttachment:
    """Send the workflow back to the current or an earlier stage; its approvals start afresh."""
    reason = _clean_reason(reason, required=True)
    replay, attachment, step = _decide(obj=obj, user=user, idempotency_key=idempotency_key)
    if replay is not None:
        return replay
    assert attachment is not None and step is not None
    stages = ordered_stages(attachment.workflow_id)
    target = _resolve_target_stage(stages, stage)
    current_position = stage_position(stages, attachment.current_stage_id)
    target_position = stage_position(stages, target.pk)
    if current_position is None or target_position is None or target_position > current_position:
        raise WorkflowValidationError(
            "Resubmission must go back to the current stage or an earlier one.", field="stageId"
        )
    from_stage, from_pipeline = attachment.current_stage, attachment.current_pipeline
    approvals.close_for_resubmission(step.row, user=user, reason=reason)
    _open_stage(attachment, obj, target, flow=step.row.flow, replace_flow=False)
    events = [
        _event(
            attachment,
            EventType.RESUBMISSION_REQUESTED,
            user,
            from_stage=from_stage,
            from_pipeline=from_pipeline,
            to_stage=target,
            to_pipeline=target.pipeline,
            reason=reason,
        )
    ]
    _finish_decision(attachment, events, idempotency_key, step)
    return attachment


def _may_cancel(attachment: WorkflowAttachment, user: Any) -> bool:
    return (
        user.is_superuser
        or user.pk in (attachment.started_by_id, attachment.company_id)
        or user.has_perm("workflows.change_workflowattachment")
    )


@transaction.atomic
def cancel_workflow(*, obj: Model, user: Any, reason: str = "") -> WorkflowAttachment:
    """Cancel the live workflow of ``obj``; its open approval steps are cancelled too."""
    _require_user(user)
    reason = _clean_reason(reason, required=False)
    attachment = _lock_attachment(obj, user, statuses=LIVE_STATUSES)
    if not _may_cancel(attachment, user):
        raise WorkflowPermissionDenied(
            "Only the user who started the workflow, the company or an administrator may cancel it."
        )
    flow = approvals.get_flow(attachment.content_type_id, attachment.object_id)
    if flow is not None and attachment.status == AttachmentStatus.IN_PROGRESS:
        approvals.cancel_open_rows(flow.pk)
    events = [
        _event(
            attachment,
            EventType.CANCELLED,
            user,
            from_stage=attachment.current_stage,
            from_pipeline=attachment.current_pipeline,
            reason=reason,
        )
    ]
    attachment.status = AttachmentStatus.CANCELLED
    attachment.completed_at = timezone.now()
    attachment.save()
    save_events(events)
    return attachment
