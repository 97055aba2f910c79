"""The one module that talks to django-approval-workflow.

The rest of the engine speaks of stages, approvers and decisions; this adapter turns those
into approval_workflow flows and steps, and works around the package's pitfalls:

- it never opens transactions or locks, so every call here must run inside the engine's
  transaction after the attachment row has been locked;
- its handler lookup is replaced by one explicit no-op handler: the engine drives
  transitions itself, and no hook can fail silently or cost queries;
- delegation keeps the role and strategy of the delegated share (the package drops them,
  which lets a delegate bypass consensus);
- resubmission cancels every open row before new steps are appended (the package leaves
  role siblings current, so the flow could run on past the new steps);
- its flow cache is never read, and is cleared for an object whenever a flow is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from approval_workflow.choices import ApprovalStatus
from approval_workflow.choices import ApprovalType as PackageApprovalType
from approval_workflow.handlers import BaseApprovalHandler
from approval_workflow.models import ApprovalFlow, ApprovalInstance
from approval_workflow.services import advance_flow, extend_flow, start_flow
from approval_workflow.utils import ApprovalRepository
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db.models import Exists, Model, OuterRef, Q
from django.utils import timezone

from backend.workflows.approval_config import role_model
from backend.workflows.constants import ApprovalBehaviour, ApprovalType
from backend.workflows.exceptions import InvalidStateError, WorkflowValidationError

OPEN_STATUSES = (ApprovalStatus.PENDING, ApprovalStatus.CURRENT)

# approval_workflow insists on a form object for SUBMIT steps; the engine validates
# submitted data itself, so SUBMIT steps are plain approvals for the package.
_PACKAGE_TYPES = {
    ApprovalBehaviour.APPROVE: PackageApprovalType.APPROVE,
    ApprovalBehaviour.SUBMIT: PackageApprovalType.APPROVE,
    ApprovalBehaviour.CHECK_IN_VERIFY: PackageApprovalType.CHECK_IN_VERIFY,
    ApprovalBehaviour.MOVE: PackageApprovalType.MOVE,
}


class EngineApprovalHandler(BaseApprovalHandler):
    """No-op hooks: the workflow engine reacts to decisions itself, after the package returns."""


_HANDLER = EngineApprovalHandler()


def get_approval_handler(instance: ApprovalInstance) -> BaseApprovalHandler:
    """Return the handler for every approval step (``APPROVAL_HANDLER_DISCOVERY_FUNCTION``)."""
    return _HANDLER


@dataclass(frozen=True)
class StepInfo:
    """What the engine needs to know about one open approval row."""

    row: ApprovalInstance
    stage_id: int | None
    approval_index: int
    behaviour: str
    required_form: int | None
    is_checked_in: bool
    # Everyone holding a current row of the flow before the decision (for inbox updates).
    approvers: tuple[int, ...] = ()


def describe(row: ApprovalInstance, *, approvers: tuple[int, ...] = ()) -> StepInfo:
    """Read the engine's bookkeeping stored on an approval row."""
    extra = row.extra_fields or {}
    return StepInfo(
        approvers=approvers,
        row=row,
        stage_id=extra.get("stage_id"),
        approval_index=int(extra.get("approval_index", 0)),
        behaviour=extra.get("behaviour", ApprovalBehaviour.APPROVE),
        required_form=extra.get("required_form"),
        is_checked_in=bool(extra.get("checked_in")),
    )


def build_steps(stage: Any, first_step_number: int) -> list[dict[str, Any]]:
    """Turn a stage's approvals into approval_workflow step dicts, numbered from ``first_step_number``.

    Users and roles are loaded in one query each.
    """
    approvals = list(stage.approvals or [])
    if not approvals:
        raise WorkflowValidationError(
            f"Stage '{stage.name_en}' has no approvers configured.", field="approvals"
        )
    user_ids = {a["approval_user"] for a in approvals if a["approval_type"] == ApprovalType.USER}
    role_ids = {a["user_role"] for a in approvals if a["approval_type"] == ApprovalType.ROLE}
    users = get_user_model().objects.in_bulk(user_ids) if user_ids else {}
    roles = role_model().objects.in_bulk(role_ids) if role_ids else {}

    steps: list[dict[str, Any]] = []
    for index, approval in enumerate(approvals):
        behaviour = approval.get("behaviour", ApprovalBehaviour.APPROVE)
        step: dict[str, Any] = {
            "step": first_step_number + index,
            "approval_type": _PACKAGE_TYPES[behaviour],
            "extra_fields": {
                "stage_id": stage.pk,
                "approval_index": index,
                "behaviour": behaviour,
                "required_form": approval.get("required_form"),
            },
        }
        if approval["approval_type"] == ApprovalType.USER:
            user = users.get(approval["approval_user"])
            if user is None or not user.is_active:
                raise WorkflowValidationError(
                    f"Approver {approval['approval_user']} of stage '{stage.name_en}' "
                    "no longer exists or is inactive.",
                    field="approvals",
                )
            step["assigned_to"] = user
        else:
            role = roles.get(approval["user_role"])
            if role is None:
                raise WorkflowValidationError(
                    f"Role {approval['user_role']} of stage '{stage.name_en}' no longer exists.",
                    field="approvals",
                )
            step["assigned_role"] = role
            step["role_selection_strategy"] = approval["role_selection_strategy"]
            if "quorum_count" in approval:
                step["quorum_count"] = approval["quorum_count"]
            if "percentage_required" in approval:
                step["percentage_required"] = approval["percentage_required"]
        steps.append(step)
    return steps


def _translate(error: ValueError) -> WorkflowValidationError:
    message = str(error)
    if message.startswith("No users found for role"):
        message = "A role of this stage has no active members."
    return WorkflowValidationError(message, field="approvals")


def open_flow(obj: Model, steps: list[dict[str, Any]], *, replace_existing: bool) -> ApprovalFlow:
    """Start the approval flow of ``obj`` with ``steps``.

    approval_workflow allows one flow per object, ever; a flow left by an earlier, finished
    attachment is deleted first (the engine's audit trail keeps the history).
    """
    if replace_existing:
        delete_flows(ContentType.objects.get_for_model(obj), [str(obj.pk)])
    try:
        return start_flow(obj, steps)
    except ValueError as error:
        raise _translate(error) from error


def add_steps(flow: ApprovalFlow, steps: list[dict[str, Any]]) -> None:
    """Append ``steps`` to ``flow``; the first becomes current when nothing else is open."""
    try:
        extend_flow(flow, steps)
    except ValueError as error:
        raise _translate(error) from error


def get_flow(content_type_id: int, object_id: str) -> ApprovalFlow | None:
    """Return the flow of an object straight from the database (never from the package cache)."""
    return ApprovalFlow.objects.filter(content_type_id=content_type_id, object_id=object_id).first()


def _current_rows_query(content_type_id: int, object_id: str) -> Any:
    # The package's save() reads assigned_role_content_type (and advance_flow the flow and
    # assignee): loading them here saves a query on every decision.
    return (
        ApprovalInstance.objects.select_related("flow", "assigned_to", "assigned_role_content_type")
        .filter(
            flow__content_type_id=content_type_id,
            flow__object_id=object_id,
            status=ApprovalStatus.CURRENT,
        )
        .order_by("step_number", "id")
    )


def current_row_for_user(
    content_type_id: int, object_id: str, user: Any
) -> ApprovalInstance | None:
    """Return the open approval row ``user`` may act on for an object, if any."""
    return _current_rows_query(content_type_id, object_id).filter(assigned_to_id=user.pk).first()


def current_step_for_user(content_type_id: int, object_id: str, user: Any) -> StepInfo | None:
    """Return the step ``user`` may act on, knowing every current approver (one query)."""
    rows = list(_current_rows_query(content_type_id, object_id))
    mine = next((row for row in rows if row.assigned_to_id == user.pk), None)
    if mine is None:
        return None
    approvers = tuple(sorted({row.assigned_to_id for row in rows if row.assigned_to_id}))
    return describe(mine, approvers=approvers)


def user_had_row_for_stages(flow_id: int, stage_ids: list[int], user: Any) -> bool:
    """Tell whether ``user`` held or acted on a row of one of ``stage_ids`` in this flow."""
    return (
        ApprovalInstance.objects.filter(flow_id=flow_id, extra_fields__stage_id__in=stage_ids)
        .filter(Q(assigned_to_id=user.pk) | Q(action_user_id=user.pk))
        .exists()
    )


def has_open_rows(flow_id: int) -> bool:
    """Tell whether any step of the flow is still pending or current."""
    return ApprovalInstance.objects.filter(flow_id=flow_id, status__in=OPEN_STATUSES).exists()


def open_rows_exist(flow_id: int) -> Exists:
    """Return ``has_open_rows`` as an expression, to ride along in another query."""
    return Exists(ApprovalInstance.objects.filter(flow_id=flow_id, status__in=OPEN_STATUSES))


def approve(
    row: ApprovalInstance,
    *,
    user: Any,
    comment: str,
    form_data: dict[str, Any] | None,
    timestamp: str | None = None,
) -> None:
    """Record ``user``'s approval (or check-in) on ``row``."""
    kwargs: dict[str, Any] = {"timestamp": timestamp} if timestamp else {}
    try:
        advance_flow(
            row,
            "approved",
            user,
            comment=comment,
            form_data=form_data or None,
            **kwargs,
        )
    except PermissionError as error:  # the engine checks first; this is a safety net
        raise InvalidStateError(str(error)) from error
    except ValueError as error:
        raise _translate(error) from error


def reject(row: ApprovalInstance, *, user: Any, reason: str) -> None:
    """Record ``user``'s rejection on ``row``; the package removes the other open rows."""
    try:
        advance_flow(row, "rejected", user, comment=reason)
    except (PermissionError, ValueError) as error:
        raise InvalidStateError(str(error)) from error


def _close_row(row: ApprovalInstance, *, status: str, user: Any, comment: str) -> None:
    """Record a decision the engine takes on ``row`` itself (delegation, sending back).

    A queryset update, not ``row.save()``: the package's ``save()`` re-reads the row only to
    log its old status. The in-memory row is updated to match.
    """
    row.status, row.action_user, row.comment = status, user, comment
    row.updated_at = timezone.now()
    ApprovalInstance.objects.filter(pk=row.pk).update(
        status=status, action_user=user, comment=comment, updated_at=row.updated_at
    )


def delegate(row: ApprovalInstance, *, user: Any, to_user: Any, reason: str) -> ApprovalInstance:
    """Hand ``row`` to ``to_user``, keeping its role, strategy and quorum settings."""
    extra = dict(row.extra_fields or {})
    for key in ("checked_in", "checked_in_by", "checked_in_at"):
        extra.pop(key, None)
    extra["delegated_from"] = user.pk
    _close_row(row, status=ApprovalStatus.DELEGATED, user=user, comment=reason)
    # Related objects, not ids: the package's save() reads the flow and the role content type
    # (to log and to fill defaults) and would load each again.
    return ApprovalInstance.objects.create(
        flow=row.flow,
        step_number=row.step_number,
        status=ApprovalStatus.CURRENT,
        assigned_to=to_user,
        assigned_role_content_type=row.assigned_role_content_type,
        assigned_role_object_id=row.assigned_role_object_id,
        role_selection_strategy=row.role_selection_strategy,
        approval_type=row.approval_type,
        quorum_count=row.quorum_count,
        quorum_total=row.quorum_total,
        percentage_required=row.percentage_required,
        extra_fields=extra,
    )


def close_for_resubmission(row: ApprovalInstance, *, user: Any, reason: str) -> None:
    """Mark ``row`` as sent back for resubmission and cancel every other open row of its flow."""
    _close_row(row, status=ApprovalStatus.NEEDS_RESUBMISSION, user=user, comment=reason)
    cancel_open_rows(row.flow_id)


def cancel_open_rows(flow_id: int) -> int:
    """Cancel every pending or current row of a flow; return how many."""
    return ApprovalInstance.objects.filter(flow_id=flow_id, status__in=OPEN_STATUSES).update(
        status=ApprovalStatus.CANCELLED
    )


def delete_flows(content_type: ContentType, object_ids: list[str]) -> int:
    """Delete the flows (and steps) of these objects and drop them from the package cache."""
    flows = ApprovalFlow.objects.filter(content_type=content_type, object_id__in=object_ids)
    deleted, _ = flows.delete()
    if deleted:
        model = content_type.model_class()
        for object_id in object_ids:
            stub = model(pk=object_id) if model is not None else None
            if stub is not None:
                ApprovalRepository.clear_cache_for_object(stub)
    return deleted


def open_rows_for_objects(content_type_id: int, object_ids: list[str]) -> list[ApprovalInstance]:
    """Return the current rows of many objects in one query (for lists and DataLoaders)."""
    return list(
        ApprovalInstance.objects.filter(
            flow__content_type_id=content_type_id,
            flow__object_id__in=object_ids,
            status=ApprovalStatus.CURRENT,
        )
        .select_related("flow", "assigned_to")
        .order_by("step_number", "id")
    )


def user_can_act_on_attachment(user: Any) -> Exists:
    """Return an expression, for attachment querysets, true where ``user`` holds a current row."""
    return Exists(
        ApprovalInstance.objects.filter(
            status=ApprovalStatus.CURRENT,
            assigned_to_id=user.pk,
            flow__content_type_id=OuterRef("content_type_id"),
            flow__object_id=OuterRef("object_id"),
        )
    )


def _flows_of(content_type_id: int, object_ids: list[str]) -> Any:
    return ApprovalFlow.objects.filter(content_type_id=content_type_id, object_id__in=object_ids)


def delete_flows_of_objects(content_type_id: int, object_ids: list[str]) -> tuple[int, int]:
    """Delete the flows and steps of these objects (cleanup); return ``(flows, steps)`` deleted.

    The steps go in one ``DELETE`` per batch of flows; the package's cached flows are dropped
    (its cache key is ``approval_flow_<content type id>_<object pk>``).
    """
    if not object_ids:
        return 0, 0
    _, deleted = _flows_of(content_type_id, object_ids).delete()
    cache.delete_many([f"approval_flow_{content_type_id}_{object_id}" for object_id in object_ids])
    return deleted.get(ApprovalFlow._meta.label, 0), deleted.get(ApprovalInstance._meta.label, 0)


def count_flows_of_objects(objects: Any) -> tuple[int, int]:
    """Count the flows and steps of the objects in ``objects`` (a queryset with
    ``content_type_id`` and ``object_id`` columns), for a dry run of the cleanup.

    One ``IN (subquery)`` per content type: a correlated ``EXISTS`` would make SQLite scan
    the objects once per flow.
    """
    flows = steps = 0
    content_type_ids = objects.order_by().values_list("content_type_id", flat=True).distinct()
    for content_type_id in list(content_type_ids):
        object_ids = objects.filter(content_type_id=content_type_id).order_by().values("object_id")
        matching = _flows_of(content_type_id, object_ids)
        flows += matching.count()
        steps += ApprovalInstance.objects.filter(
            flow__content_type_id=content_type_id, flow__object_id__in=object_ids
        ).count()
    return flows, steps
