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

import math
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from approval_workflow.choices import ApprovalStatus, RoleSelectionStrategy
from approval_workflow.choices import ApprovalType as PackageApprovalType
from approval_workflow.handlers import BaseApprovalHandler
from approval_workflow.models import ApprovalFlow, ApprovalInstance
from approval_workflow.services import advance_flow
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from backend.precompiled import PrecompiledQuery
from backend.workflows.approval_config import (
    form_model,
    form_required_fields,
    role_member_field,
    role_model,
    step_deadline,
)
from backend.workflows.constants import ApprovalBehaviour, ApprovalType, TimeoutAction
from backend.workflows.engine_settings import form_model_label
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


# The package's own names for the engine's on_timeout actions (its column has no "notify").
_PACKAGE_TIMEOUT_ACTIONS = {
    TimeoutAction.ESCALATE: "escalate",
    TimeoutAction.REJECT: "reject",
    TimeoutAction.APPROVE: "auto_approve",
    TimeoutAction.NOTIFY: "notify",
}


class EngineApprovalHandler(BaseApprovalHandler):
    """No-op hooks: the workflow engine reacts to decisions itself, after the package returns."""


_HANDLER = EngineApprovalHandler()


def get_approval_handler(instance: ApprovalInstance) -> BaseApprovalHandler:
    """Return the handler for every approval step (``APPROVAL_HANDLER_DISCOVERY_FUNCTION``)."""
    return _HANDLER


@dataclass(frozen=True)
class StepInfo:
    """What the engine needs to know about one open approval row (the engine's own record).

    ``row`` is the adapter's handle, passed back to ``approve``, ``reject``, ``delegate`` and
    ``close_for_resubmission``; nothing outside this module reads its fields.
    """

    row: ApprovalInstance
    flow_id: int
    stage_id: int | None
    approval_index: int
    behaviour: str
    required_form: int | None
    # Required field names of the step's form (read with the row), None without a form.
    required_fields: tuple[str, ...] | None
    is_checked_in: bool
    delegated_from: int | None
    # Who holds the step (the user object is loaded with the row) and through which role.
    assignee_id: int | None = None
    assignee: Any = None
    role_id: int | None = None
    # The object the step belongs to: ``(content type id, object id)``.
    object_key: tuple[int, str] | None = None
    # The package's flow, an opaque handle for ``add_steps`` (loaded with the row).
    flow: Any = None
    # Everyone holding a current row of the flow before the decision (for inbox updates).
    approvers: tuple[int, ...] = ()
    # When the step is due (set when it opened with a deadline), else None.
    due_at: Any = None
    # The other current rows of the same step and role (what the package's strategies
    # count and remove), when the row was read with them; None when not read.
    step_siblings: tuple[int, ...] | None = None


def _required_fields(row: ApprovalInstance, required_form: Any) -> tuple[str, ...] | None:
    """Return the step form's required fields when its schema was read with the row.

    ``()`` without a form (or for a form that no longer exists), None when not read.
    """
    if required_form is None:
        return ()
    if not hasattr(row, "required_form_schema"):
        return None
    schema = row.required_form_schema
    return tuple(form_required_fields(SimpleNamespace(schema=schema))) if schema else ()


def form_required_field_names(form_id: Any) -> list[str]:
    """Return the required fields of a form, read on its own (a form model without a schema field)."""
    form = form_model().objects.filter(pk=form_id).first()
    return form_required_fields(form) if form is not None else []


def _form_schema_subquery() -> Subquery | None:
    """Return the schema of the row's ``required_form`` as a subquery, if the model stores one."""
    model = form_model()
    names = {field.name for field in model._meta.get_fields()}
    column = next((name for name in ("schema", "form_schema") if name in names), None)
    if column is None:
        return None
    return Subquery(
        model._default_manager.filter(
            pk=Cast(KeyTextTransform("required_form", OuterRef("extra_fields")), IntegerField())
        ).values(column)[:1]
    )


def describe(
    row: ApprovalInstance,
    *,
    approvers: tuple[int, ...] = (),
    step_siblings: tuple[int, ...] | None = None,
) -> StepInfo:
    """Read the engine's bookkeeping stored on an approval row."""
    extra = row.extra_fields or {}
    required_form = extra.get("required_form")
    return StepInfo(
        approvers=approvers,
        step_siblings=step_siblings,
        row=row,
        flow_id=row.flow_id,
        stage_id=extra.get("stage_id"),
        approval_index=int(extra.get("approval_index", 0)),
        behaviour=extra.get("behaviour", ApprovalBehaviour.APPROVE),
        required_form=required_form,
        required_fields=_required_fields(row, required_form),
        is_checked_in=bool(extra.get("checked_in")),
        delegated_from=extra.get("delegated_from"),
        assignee_id=row.assigned_to_id,
        assignee=row.assigned_to if row.assigned_to_id is not None else None,
        role_id=int(row.assigned_role_object_id) if row.assigned_role_object_id else None,
        object_key=(
            (row.flow.content_type_id, row.flow.object_id)
            if ApprovalInstance.flow.is_cached(row)  # type: ignore[attr-defined]
            else None
        ),
        flow=row.flow if ApprovalInstance.flow.is_cached(row) else None,  # type: ignore[attr-defined]
        due_at=row.due_date,
    )


def build_steps(
    stage: Any, first_step_number: int, *, left_out: int | None = None
) -> list[dict[str, Any]]:
    """Turn a stage's approvals into approval_workflow step dicts, numbered from ``first_step_number``.

    Users and roles are loaded in one query each. ``left_out`` is a user who may not approve
    (the one who started the workflow, unless ``ALLOW_SELF_APPROVAL``): a user approval naming
    them is refused, and a role step they belong to is marked so that ``leave_out`` takes them
    out of it as soon as the package shares it among the members.
    """
    approvals = list(stage.approvals or [])
    if not approvals:
        raise WorkflowValidationError(
            f"Stage '{stage.name_en}' has no approvers configured.", field="approvals"
        )
    user_ids = {a["approval_user"] for a in approvals if a["approval_type"] == ApprovalType.USER}
    role_ids = {a["user_role"] for a in approvals if a["approval_type"] == ApprovalType.ROLE}
    # An absence and its substitute ride along with the users (no query of their own).
    users = (
        get_user_model().objects.select_related("out_of_office__substitute").in_bulk(user_ids)
        if user_ids
        else {}
    )
    now = timezone.now()
    roles: dict[Any, Any] = {}
    if role_ids:
        queryset = role_model().objects.filter(pk__in=role_ids)
        if left_out is not None:
            # Whether the left-out user is a member rides along with the roles.
            queryset = queryset.annotate(
                has_left_out=Exists(
                    get_user_model().objects.filter(
                        pk=left_out, is_active=True, **{role_member_field(): OuterRef("pk")}
                    )
                )
            )
        roles = {role.pk: role for role in queryset}

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
        _add_deadline(step, approval)
        if approval["approval_type"] == ApprovalType.USER:
            user = users.get(approval["approval_user"])
            if user is None or not user.is_active:
                raise WorkflowValidationError(
                    f"Approver {approval['approval_user']} of stage '{stage.name_en}' "
                    "no longer exists or is inactive.",
                    field="approvals",
                )
            if user.pk == left_out:
                raise WorkflowValidationError(
                    f"Stage '{stage.name_en}' has no eligible approver: the user who started "
                    "the workflow cannot approve it.",
                    field="approvals",
                )
            substitute = substitute_of(user, now)
            if substitute is not None and substitute.pk != left_out:
                step["extra_fields"]["substitute_for"] = user.pk
                user = substitute
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
            if getattr(role, "has_left_out", False):
                step["extra_fields"]["left_out"] = left_out
                step["extra_fields"]["stage_name"] = stage.name_en
            if "quorum_count" in approval:
                step["quorum_count"] = approval["quorum_count"]
            if "percentage_required" in approval:
                step["percentage_required"] = approval["percentage_required"]
        steps.append(step)
    return steps


def substitute_of(user: Any, now: Any) -> Any:
    """Return who takes ``user``'s new steps at ``now`` (their active substitute), else None.

    Reads ``user.out_of_office`` (load it with ``select_related("out_of_office__substitute")``).
    """
    try:
        absence = user.out_of_office
    except ObjectDoesNotExist:
        return None
    if absence is None or not absence.is_active_at(now) or not absence.substitute.is_active:
        return None
    return absence.substitute


def substitutions(steps: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Return ``[{"user", "substitute"}]`` for the steps given to a substitute (for the event)."""
    return [
        {"user": step["extra_fields"]["substitute_for"], "substitute": step["assigned_to"].pk}
        for step in steps
        if step["extra_fields"].get("substitute_for") is not None
    ]


def _add_deadline(step: dict[str, Any], approval: dict[str, Any]) -> None:
    """Carry an approval's deadline onto its step (the due time is set when it opens)."""
    due_in, remind_before = step_deadline(approval)
    if due_in is None:
        return
    step["sla_duration"] = due_in
    on_timeout = approval.get("on_timeout")
    if on_timeout:
        step["timeout_action"] = _PACKAGE_TIMEOUT_ACTIONS[on_timeout["action"]]
        step["escalation_on_timeout"] = on_timeout["action"] == TimeoutAction.ESCALATE
        step["extra_fields"]["on_timeout"] = on_timeout
    if remind_before is not None:
        step["extra_fields"]["remind_before_seconds"] = int(remind_before.total_seconds())


def _translate(error: ValueError) -> WorkflowValidationError:
    message = str(error)
    if message.startswith("No users found for role"):
        message = "A role of this stage has no active members."
    return WorkflowValidationError(message, field="approvals")


def open_flow(obj: Model, steps: list[dict[str, Any]], *, replace_existing: bool) -> ApprovalFlow:
    """Start the approval flow of ``obj`` with ``steps``.

    approval_workflow allows one flow per object, ever; a flow left by an earlier, finished
    attachment is deleted first (the engine's audit trail keeps the history). The flow and its
    rows are written here, as the package's ``start_flow`` writes them (see ``_write_steps``).
    """
    content_type = ContentType.objects.get_for_model(obj)
    if replace_existing:
        delete_flows(content_type, [str(obj.pk)])
    flow = ApprovalFlow.objects.create(content_type=content_type, object_id=str(obj.pk))
    _write_steps(flow, steps)
    return flow


def leave_out(flow_id: int, step_number: int, extra: dict[str, Any]) -> None:
    """Take the marked user (``extra["left_out"]``) out of a role step just opened.

    approval_workflow shares a role step among every active member; separation of duties
    leaves the user who started the workflow out. Their share is removed and a quorum,
    majority or percentage is counted over the others; a round-robin step that picked them
    goes to the least-assigned other member. When nobody eligible remains (or fewer members
    than a quorum needs), the stage cannot run: VALIDATION_ERROR naming it.
    """
    user_id, stage_name = extra["left_out"], extra.get("stage_name", "")
    rows = list(
        ApprovalInstance.objects.filter(
            flow_id=flow_id, step_number=step_number, status=ApprovalStatus.CURRENT
        )
    )
    theirs = [row for row in rows if row.assigned_to_id == user_id]
    if not theirs:
        return
    others = [row for row in rows if row.assigned_to_id != user_id]
    nobody = WorkflowValidationError(
        f"Stage '{stage_name}' has no eligible approver: the user who started the workflow "
        "cannot approve it.",
        field="approvals",
    )
    strategy = theirs[0].role_selection_strategy
    if strategy == RoleSelectionStrategy.ROUND_ROBIN:
        replacement = (
            get_user_model()
            .objects.filter(
                is_active=True, **{role_member_field(): theirs[0].assigned_role_object_id}
            )
            .exclude(pk=user_id)
            .annotate(assignments=Count("approvalinstance"))
            .order_by("assignments", "id")
            .first()
        )
        if replacement is None:
            raise nobody
        ApprovalInstance.objects.filter(pk=theirs[0].pk).update(assigned_to=replacement)
        return
    total = len(others)
    required = total
    if strategy == RoleSelectionStrategy.MAJORITY:
        required = total // 2 + 1
    elif strategy == RoleSelectionStrategy.PERCENTAGE:
        percentage = float(theirs[0].percentage_required or 50.0)
        required = max(1, min(total, math.ceil(total * percentage / 100)))
    elif strategy == RoleSelectionStrategy.QUORUM:
        required = theirs[0].quorum_count or 1
    if not others or required > total:
        raise nobody
    ApprovalInstance.objects.filter(pk__in=[row.pk for row in theirs]).delete()
    if strategy in (
        RoleSelectionStrategy.QUORUM,
        RoleSelectionStrategy.MAJORITY,
        RoleSelectionStrategy.PERCENTAGE,
    ):
        ApprovalInstance.objects.filter(pk__in=[row.pk for row in others]).update(
            quorum_count=required, quorum_total=total
        )


def add_steps(flow: ApprovalFlow, steps: list[dict[str, Any]]) -> None:
    """Append ``steps`` to ``flow``, which has no open row left; the first becomes current.

    The engine opens a stage only once the previous one is closed (every step decided, or
    every open row cancelled for a resubmission), and numbers its steps after the last it
    opened (``WorkflowAttachment.last_step_number``), so the package's ``extend_flow`` checks
    (a step number in use, a current row left) never apply.
    """
    _write_steps(flow, steps)


# ---------------------------------------------------------------------------- writing steps
#
# What approval_workflow's start_flow / extend_flow write, in one INSERT: the package creates
# one row per step (a role step as a "template" row without assignee), then replaces the
# first step's template with one current row per member it selects (a read of the role, one
# of its members, for round robin one of their assignment counts, an INSERT and a DELETE),
# and the engine then corrects that step for separation of duties and stamps its due time
# (more reads and UPDATEs). Here the members are read once (with their assignment counts
# for round robin), the left-out user is never given a share, the due time is set on
# insert, and the rows are the ones the package and the engine's corrections would leave:
# tests/engine/test_step_writing.py compares both, column by column, for every strategy.

_SHARED_STRATEGIES = (RoleSelectionStrategy.ANYONE, RoleSelectionStrategy.CONSENSUS)
_QUORUM_STRATEGIES = (
    RoleSelectionStrategy.QUORUM,
    RoleSelectionStrategy.MAJORITY,
    RoleSelectionStrategy.PERCENTAGE,
)


def _write_steps(flow: ApprovalFlow, steps: list[dict[str, Any]]) -> None:
    """Insert the rows of ``steps`` into ``flow``: the first step current, the rest pending."""
    ordered = sorted(steps, key=lambda step: step["step"])
    now = timezone.now()
    first, later = ordered[0], ordered[1:]
    if "assigned_role" in first:
        current = _role_shares(flow, first, now)
    else:
        current = [_user_row(flow, first, ApprovalStatus.CURRENT)]
    _set_due_dates(current, now)
    pending = [
        _template_row(flow, step) if "assigned_role" in step else _user_row(flow, step)
        for step in later
    ]
    ApprovalInstance.objects.bulk_create([*pending, *current])


def _set_due_dates(rows: list[ApprovalInstance], now: Any) -> None:
    """Give rows opened ``now`` their due time (what ``stamp_due_dates`` writes afterwards)."""
    for row in rows:
        if row.sla_duration is not None:
            row.due_date = now + row.sla_duration
            # A step without a reminder is marked reminded, so the reminder sweep skips it.
            row.reminder_sent = "remind_before_seconds" not in (row.extra_fields or {})


def _user_row(
    flow: ApprovalFlow, step: dict[str, Any], status: str = ApprovalStatus.PENDING
) -> ApprovalInstance:
    return ApprovalInstance(
        flow=flow,
        step_number=step["step"],
        status=status,
        assigned_to=step["assigned_to"],
        approval_type=step.get("approval_type", PackageApprovalType.APPROVE),
        sla_duration=step.get("sla_duration"),
        extra_fields=step.get("extra_fields"),
        escalation_on_timeout=step.get("escalation_on_timeout", False),
        timeout_action=step.get("timeout_action"),
    )


def _template_row(flow: ApprovalFlow, step: dict[str, Any]) -> ApprovalInstance:
    """A pending role step: the package's template row (no assignee), opened by the package."""
    role = step["assigned_role"]
    return ApprovalInstance(
        flow=flow,
        step_number=step["step"],
        status=ApprovalStatus.PENDING,
        assigned_role_content_type=ContentType.objects.get_for_model(type(role)),
        assigned_role_object_id=str(role.pk),
        role_selection_strategy=step["role_selection_strategy"],
        approval_type=step.get("approval_type", PackageApprovalType.APPROVE),
        sla_duration=step.get("sla_duration"),
        extra_fields=step.get("extra_fields"),
        quorum_count=step.get("quorum_count"),
        percentage_required=step.get("percentage_required"),
        hierarchy_levels=None,
        escalation_on_timeout=step.get("escalation_on_timeout", False),
        timeout_action=step.get("timeout_action"),
    )


def _members_query(role_key: Any) -> Any:
    members = get_user_model().objects.filter(is_active=True, **{role_member_field(): role_key})
    return members.order_by("id")


def _members_by_assignments_query(role_key: Any) -> Any:
    # The member with the fewest rows of any status first (the package's round robin).
    members = get_user_model().objects.filter(is_active=True, **{role_member_field(): role_key})
    return members.annotate(assignments=Count("approvalinstance")).order_by("assignments", "id")


def _member_variant() -> tuple[str, str]:
    return settings.AUTH_USER_MODEL, role_member_field()


# Read whenever a role step opens: compiled once per database (and role lookup).
_members_statement = PrecompiledQuery(_members_query, variant=_member_variant)
_members_by_assignments_statement = PrecompiledQuery(
    _members_by_assignments_query, variant=_member_variant
)


def _role_shares(flow: ApprovalFlow, step: dict[str, Any], now: Any) -> list[ApprovalInstance]:
    """Return the current rows of a role step opened now: one per member given a share.

    ``step`` is a step dict; its role is ``assigned_role`` (an instance) or, for a template
    row read back, ``role_type`` (a ContentType) and ``role_key`` (the stored object id).
    """
    strategy = step["role_selection_strategy"]
    if "assigned_role" in step:
        role = step["assigned_role"]
        role_type, role_key = ContentType.objects.get_for_model(type(role)), str(role.pk)
    else:
        role_type, role_key = step["role_type"], step["role_key"]
    extra = step.get("extra_fields") or {}
    left_out = extra.get("left_out")
    # The role's own key type (the stored id is text), as the ORM converts it for the lookup.
    try:
        key = role_model()._meta.pk.to_python(role_key)
    except ValidationError:
        key = role_key
    if strategy == RoleSelectionStrategy.ROUND_ROBIN:
        users = _members_by_assignments_statement.fetch(role_key=key)
    else:
        users = _members_statement.fetch(role_key=key)
    if not users:
        raise WorkflowValidationError(
            "A role of this stage has no active members.", field="approvals"
        )
    eligible = [user for user in users if user.pk != left_out]
    if not eligible:
        raise _nobody_eligible(extra)
    common: dict[str, Any] = {
        "flow": flow,
        "step_number": step["step"],
        "status": ApprovalStatus.CURRENT,
        "assigned_role_content_type": role_type,
        "assigned_role_object_id": role_key,
        "role_selection_strategy": strategy,
        "approval_type": step.get("approval_type", PackageApprovalType.APPROVE),
        "sla_duration": step.get("sla_duration"),
    }
    if strategy == RoleSelectionStrategy.ROUND_ROBIN:
        return [ApprovalInstance(assigned_to=eligible[0], extra_fields=extra, **common)]
    if strategy in _SHARED_STRATEGIES:
        return [
            ApprovalInstance(assigned_to=user, extra_fields=extra, **common) for user in eligible
        ]
    if strategy not in _QUORUM_STRATEGIES:
        raise WorkflowValidationError(
            f"Unknown role selection strategy: {strategy}.", field="approvals"
        )
    # The package counts the quorum over every member; leaving a member out counts it again
    # over the others (the package's counts stay in extra_fields, as leave_out leaves them).
    required, total = _quorum(strategy, step.get("quorum_count"), step, len(users))
    stored_extra = {
        **extra,
        "quorum_required": required,
        "quorum_total": total,
        "quorum_progress": 0,
    }
    if len(eligible) < len(users):
        total = len(eligible)
        required = _quorum(strategy, required, step, total)[0]
        if required > total:
            raise _nobody_eligible(extra)
    return [
        ApprovalInstance(
            assigned_to=user,
            extra_fields=stored_extra,
            quorum_count=required,
            quorum_total=total,
            percentage_required=step.get("percentage_required"),
            escalation_on_timeout=step.get("escalation_on_timeout", False),
            timeout_action=step.get("timeout_action"),
            **common,
        )
        for user in eligible
    ]


def _quorum(
    strategy: str, quorum_count: Any, step: dict[str, Any], members: int
) -> tuple[int, int]:
    """Return ``(required, total)`` approvals of a quorum-type step shared by ``members``."""
    if strategy == RoleSelectionStrategy.MAJORITY:
        return members // 2 + 1, members
    if strategy == RoleSelectionStrategy.PERCENTAGE:
        percentage = float(step.get("percentage_required") or 50.0)
        return max(1, min(members, math.ceil(members * percentage / 100))), members
    return quorum_count or 1, members


def _nobody_eligible(extra: dict[str, Any]) -> WorkflowValidationError:
    return WorkflowValidationError(
        f"Stage '{extra.get('stage_name', '')}' has no eligible approver: the user who started "
        "the workflow cannot approve it.",
        field="approvals",
    )


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


def _current_rows_with_form(content_type_id: int, object_id: str) -> Any:
    queryset = _current_rows_query(content_type_id, object_id)
    form_schema = _form_schema_subquery()
    if form_schema is not None:
        queryset = queryset.annotate(required_form_schema=form_schema)
    return queryset


# Read on every decision: compiled once (per form model, which decides the subquery).
_current_rows_statement = PrecompiledQuery(_current_rows_query)
_current_rows_with_form_statement = PrecompiledQuery(
    _current_rows_with_form, variant=form_model_label
)


def user_holds_current_row(content_type_id: int, object_id: str, user: Any) -> bool:
    """Tell whether ``user`` holds an open approval row of an object."""
    return _current_rows_query(content_type_id, object_id).filter(assigned_to_id=user.pk).exists()


def _prime_role(row: ApprovalInstance) -> None:
    """Give a role row its role as a deferred instance (only the key is loaded).

    approval_workflow tests ``instance.assigned_role`` on every decision; the generic foreign
    key would load the whole role for it. A deferred instance loads its other fields only if
    something reads them (the package's log messages do not, at the default level).
    """
    if not row.assigned_role_object_id or row.assigned_role_content_type is None:
        return
    model = row.assigned_role_content_type.model_class()
    if model is None:
        return
    pk_field = model._meta.pk
    assert pk_field is not None
    role = model.from_db(
        row._state.db, [pk_field.attname], [pk_field.to_python(row.assigned_role_object_id)]
    )
    ApprovalInstance.assigned_role.set_cached_value(row, role)  # type: ignore[attr-defined]


def current_step_for_user(content_type_id: int, object_id: str, user: Any) -> StepInfo | None:
    """Return the step ``user`` may act on, knowing every current approver (one query).

    The step's form (its required fields) rides along as a subquery.
    """
    rows = _current_rows_with_form_statement.fetch(
        content_type_id=content_type_id, object_id=str(object_id)
    )
    mine = next((row for row in rows if row.assigned_to_id == user.pk), None)
    if mine is None:
        return None
    _prime_role(mine)
    approvers = tuple(sorted({row.assigned_to_id for row in rows if row.assigned_to_id}))
    siblings = tuple(
        row.pk
        for row in rows
        if row.pk != mine.pk
        and row.step_number == mine.step_number
        and row.assigned_role_content_type_id == mine.assigned_role_content_type_id
        and row.assigned_role_object_id == mine.assigned_role_object_id
    )
    return describe(mine, approvers=approvers, step_siblings=siblings)


def user_decided_on_steps(
    content_type_id: int, object_id: str, first_step: int, last_step: int, user: Any
) -> bool:
    """Tell whether ``user`` approved, rejected or sent back one of these steps of an object."""
    return ApprovalInstance.objects.filter(
        flow__content_type_id=content_type_id,
        flow__object_id=object_id,
        step_number__gte=first_step,
        step_number__lte=last_step,
        action_user_id=user.pk,
        status__in=(
            ApprovalStatus.APPROVED,
            ApprovalStatus.REJECTED,
            ApprovalStatus.NEEDS_RESUBMISSION,
        ),
    ).exists()


def has_open_rows(flow_id: int) -> bool:
    """Tell whether any step of the flow is still pending or current."""
    return ApprovalInstance.objects.filter(flow_id=flow_id, status__in=OPEN_STATUSES).exists()


def open_rows_exist(flow_id: int) -> Exists:
    """Return ``has_open_rows`` as an expression, to ride along in another query."""
    return Exists(ApprovalInstance.objects.filter(flow_id=flow_id, status__in=OPEN_STATUSES))


# The strategies whose approval the adapter records itself (see ``approve``).
_OWN_APPROVAL_STRATEGIES = (
    None,
    RoleSelectionStrategy.ANYONE,
    RoleSelectionStrategy.CONSENSUS,
    RoleSelectionStrategy.ROUND_ROBIN,
)


def approve(
    step: StepInfo,
    *,
    user: Any,
    comment: str,
    form_data: dict[str, Any] | None,
    timestamp: str | None = None,
    last_step: int | None = None,
) -> None:
    """Record ``user``'s approval (or check-in) on ``step``.

    ``last_step`` is the highest step number opened in the flow (the current stage's last
    step, ``WorkflowAttachment.last_step_number``). With it, a plain approval of a user step
    or of an anyone, consensus or round-robin role step is written here, as the package's
    ``advance_flow`` writes it, with fewer statements (one UPDATE, no re-read of the row and
    no search for a next step when the stage has none; the step's other rows were read with
    it); check-ins, move steps, quorum-type strategies and calls without ``last_step`` go
    through the package. tests/engine/test_step_writing.py compares both.
    """
    row = step.row
    if (
        last_step is not None
        and step.step_siblings is not None
        and row.status == ApprovalStatus.CURRENT
        and row.assigned_to_id == user.pk
        and row.approval_type == PackageApprovalType.APPROVE
        and (row.role_selection_strategy or None) in _OWN_APPROVAL_STRATEGIES
    ):
        _approve_row(step, user=user, comment=comment, form_data=form_data, last_step=last_step)
        return
    _approve_with_package(
        step, user=user, comment=comment, form_data=form_data, timestamp=timestamp
    )


def _approve_row(
    step: StepInfo, *, user: Any, comment: str, form_data: dict[str, Any] | None, last_step: int
) -> None:
    row = step.row
    now = timezone.now()
    row.status, row.action_user, row.comment = ApprovalStatus.APPROVED, user, comment or ""
    row.form_data, row.updated_at = form_data or {}, now
    ApprovalInstance.objects.filter(pk=row.pk).update(
        status=row.status,
        action_user=user,
        comment=row.comment,
        form_data=row.form_data,
        updated_at=now,
    )
    # The package treats a row as a role share when it has a role and a strategy.
    strategy = row.role_selection_strategy if row.assigned_role_object_id else None
    siblings = step.step_siblings or ()
    if strategy == RoleSelectionStrategy.ANYONE and siblings:
        ApprovalInstance.objects.filter(pk__in=siblings).delete()  # the first approval decides
    elif strategy == RoleSelectionStrategy.CONSENSUS and siblings:
        return  # the others' shares are still open
    if row.step_number < last_step:
        _open_next_step(row, now)


def _open_next_step(row: ApprovalInstance, now: Any) -> None:
    """Open the stage's next pending step after ``row`` (the package's ``_advance_to_next_step``,
    with the engine's separation of duties and due time applied as the rows are written)."""
    following = (
        ApprovalInstance.objects.filter(
            flow_id=row.flow_id, step_number__gt=row.step_number, status=ApprovalStatus.PENDING
        )
        .order_by("step_number")
        .first()
    )
    if following is None:
        return
    if following.assigned_role_object_id and following.role_selection_strategy:
        shares = _role_shares(
            row.flow,
            {
                "step": following.step_number,
                "role_type": following.assigned_role_content_type,
                "role_key": following.assigned_role_object_id,
                "role_selection_strategy": following.role_selection_strategy,
                "approval_type": following.approval_type,
                "sla_duration": following.sla_duration,
                "extra_fields": following.extra_fields,
                "quorum_count": following.quorum_count,
                "percentage_required": following.percentage_required,
                "escalation_on_timeout": following.escalation_on_timeout,
                "timeout_action": following.timeout_action,
            },
            now,
        )
        _set_due_dates(shares, now)
        ApprovalInstance.objects.bulk_create(shares)
        following.delete()
        return
    changes: dict[str, Any] = {"status": ApprovalStatus.CURRENT, "updated_at": now}
    if following.sla_duration is not None:
        changes["due_date"] = now + following.sla_duration
        if "remind_before_seconds" not in (following.extra_fields or {}):
            changes["reminder_sent"] = True
    ApprovalInstance.objects.filter(pk=following.pk).update(**changes)


def _approve_with_package(
    step: StepInfo,
    *,
    user: Any,
    comment: str,
    form_data: dict[str, Any] | None,
    timestamp: str | None = None,
) -> None:
    """Record the approval through ``advance_flow``, then correct the step it opened."""
    row = step.row
    kwargs: dict[str, Any] = {"timestamp": timestamp} if timestamp else {}
    try:
        activated = advance_flow(
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
    # The package opened the stage's next step: take the left-out user out of it.
    if (
        isinstance(activated, ApprovalInstance)
        and activated.step_number != row.step_number
        and (activated.extra_fields or {}).get("left_out") is not None
    ):
        leave_out(activated.flow_id, activated.step_number, activated.extra_fields)
    if (
        isinstance(activated, ApprovalInstance)
        and activated.step_number != row.step_number
        and activated.sla_duration is not None
    ):
        stamp_due_dates(activated.flow_id)


def reject(step: StepInfo, *, user: Any, reason: str) -> None:
    """Record ``user``'s rejection on ``step`` and remove every other open row of its flow.

    What the package's ``advance_flow(row, "rejected")`` does, without the re-read of the row
    its ``save()`` makes for a log line and the count it logs (its hooks are no-ops here).
    """
    row = step.row
    _close_row(row, status=ApprovalStatus.REJECTED, user=user, comment=reason)
    ApprovalInstance.objects.filter(flow_id=row.flow_id, status__in=OPEN_STATUSES).exclude(
        pk=row.pk
    ).delete()


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


def delegate(step: StepInfo, *, user: Any, to_user: Any, reason: str) -> None:
    """Hand ``step`` to ``to_user``, keeping its role, strategy and quorum settings."""
    row = step.row
    extra = dict(row.extra_fields or {})
    for key in ("checked_in", "checked_in_by", "checked_in_at"):
        extra.pop(key, None)
    extra["delegated_from"] = user.pk
    _close_row(row, status=ApprovalStatus.DELEGATED, user=user, comment=reason)
    # Related objects, not ids: the package's save() reads the flow and the role content type
    # (to log and to fill defaults) and would load each again.
    ApprovalInstance.objects.create(
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
        # The deadline stays with the step: a delegation does not buy time.
        sla_duration=row.sla_duration,
        due_date=row.due_date,
        reminder_sent=row.reminder_sent,
        timeout_action=row.timeout_action,
        escalation_on_timeout=row.escalation_on_timeout,
    )


def close_for_resubmission(step: StepInfo, *, user: Any, reason: str) -> None:
    """Mark ``step`` as sent back for resubmission and cancel every other open row of its flow.

    One ``UPDATE`` for both: the step's row takes the decision, the other open rows are
    cancelled.
    """
    row = step.row
    row.status, row.action_user, row.comment = ApprovalStatus.NEEDS_RESUBMISSION, user, reason
    row.updated_at = timezone.now()

    fields = ApprovalInstance._meta

    def for_row(name: str, value: Any, otherwise: Any) -> Case:
        field = fields.get_field(name)
        output = getattr(field, "target_field", field)  # a foreign key's column type
        return Case(When(pk=row.pk, then=Value(value)), default=otherwise, output_field=output)

    ApprovalInstance.objects.filter(
        Q(pk=row.pk) | Q(flow_id=row.flow_id, status__in=OPEN_STATUSES)
    ).update(
        status=for_row(
            "status", ApprovalStatus.NEEDS_RESUBMISSION, Value(ApprovalStatus.CANCELLED)
        ),
        action_user_id=for_row("action_user", user.pk, F("action_user_id")),
        comment=for_row("comment", reason, F("comment")),
        updated_at=for_row("updated_at", row.updated_at, F("updated_at")),
    )


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
        _forget_cached_flows(content_type.pk, object_ids)
    return deleted


def _forget_cached_flows(content_type_id: int, object_ids: list[str]) -> None:
    """Drop these objects' flows from the package cache (the one way the adapter clears it).

    The package caches a flow under ``approval_flow_<content type id>_<object pk>``
    (``ApprovalRepository``); the adapter never reads that cache, but the package might.
    """
    cache.delete_many([f"approval_flow_{content_type_id}_{object_id}" for object_id in object_ids])


def _open_rows_of_objects(content_type_id: int, object_ids: list[str]) -> Any:
    return (
        ApprovalInstance.objects.filter(
            flow__content_type_id=content_type_id,
            flow__object_id__in=object_ids,
            status=ApprovalStatus.CURRENT,
        )
        .select_related("flow", "assigned_to")
        .order_by("step_number", "id")
    )


# Read on every decision (after commit) and for every inbox page: compiled once.
_open_rows_statement = PrecompiledQuery(_open_rows_of_objects)


def open_steps_for_objects(content_type_id: int, object_ids: list[str]) -> list[StepInfo]:
    """Return the current steps of many objects in one query (for lists and DataLoaders)."""
    rows = _open_rows_statement.fetch(
        content_type_id=content_type_id, object_ids=[str(object_id) for object_id in object_ids]
    )
    return [describe(row) for row in rows]


def user_can_act_on_attachment(user: Any) -> Exists:
    """Return an expression, for attachment querysets, true where ``user`` holds a current row."""
    return user_can_act_on_attachment_of(user.pk)


def user_can_act_on_attachment_of(user_id: Any) -> Exists:
    """Return ``user_can_act_on_attachment`` of the user whose primary key is ``user_id``."""
    return Exists(
        ApprovalInstance.objects.filter(
            status=ApprovalStatus.CURRENT,
            assigned_to_id=user_id,
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
    _forget_cached_flows(content_type_id, object_ids)
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


# --------------------------------------------------------------------------- deadlines


def stamp_due_dates(flow_id: int) -> None:
    """Give the flow's newly current steps their due time: now + the step's ``due_in``.

    A step without a reminder is marked reminded, so the reminder sweep never reads it.
    One read and two ``UPDATE`` per distinct duration (one, in practice); only stages with a
    deadline pay for it.
    """
    now = timezone.now()
    unstamped = ApprovalInstance.objects.filter(
        flow_id=flow_id,
        status=ApprovalStatus.CURRENT,
        due_date__isnull=True,
        sla_duration__isnull=False,
    )
    for sla_duration in set(unstamped.values_list("sla_duration", flat=True)):
        rows = unstamped.filter(sla_duration=sla_duration)
        rows.exclude(extra_fields__has_key="remind_before_seconds").update(
            due_date=now + sla_duration, reminder_sent=True
        )
        rows.update(due_date=now + sla_duration)


@dataclass(frozen=True)
class DueStep:
    """One open step whose reminder or timeout is due (the engine's record of a claimed row)."""

    row_id: int
    content_type_id: int
    object_id: str
    step_number: int
    stage_id: int | None
    assignee_id: int | None
    due_at: Any
    on_timeout: dict[str, Any] | None


def _due_step(row: ApprovalInstance) -> DueStep:
    extra = row.extra_fields or {}
    return DueStep(
        row_id=row.pk,
        content_type_id=row.flow.content_type_id,
        object_id=row.flow.object_id,
        step_number=row.step_number,
        stage_id=extra.get("stage_id"),
        assignee_id=row.assigned_to_id,
        due_at=row.due_date,
        on_timeout=extra.get("on_timeout"),
    )


def claim_reminders(now: Any, *, limit: int) -> list[DueStep]:
    """Claim up to ``limit`` open steps whose reminder is due and mark them reminded.

    Must run in a transaction: the rows are locked with ``SKIP LOCKED``, so another process
    sweeping at the same time claims other rows, and a row is reminded once. A step is due
    for its reminder when ``due_date - remind_before <= now``; the reminder windows in use
    are read first (a handful), then one claim per window.
    """
    waiting = ApprovalInstance.objects.filter(
        status=ApprovalStatus.CURRENT, reminder_sent=False, due_date__isnull=False
    )
    windows = sorted(
        {
            int(seconds)
            for seconds in waiting.values_list(
                KeyTextTransform("remind_before_seconds", "extra_fields"), flat=True
            ).distinct()
            if seconds is not None
        }
    )
    claimed: list[DueStep] = []
    for seconds in windows:
        if len(claimed) >= limit:
            break
        rows = list(
            waiting.filter(
                due_date__lte=now + timedelta(seconds=seconds),
                extra_fields__remind_before_seconds=seconds,
            )
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("flow")
            .order_by("due_date", "id")[: limit - len(claimed)]
        )
        ApprovalInstance.objects.filter(pk__in=[row.pk for row in rows]).update(reminder_sent=True)
        claimed.extend(_due_step(row) for row in rows)
    return claimed


def objects_with_expired_steps(now: Any, *, limit: int) -> list[tuple[int, str]]:
    """Return up to ``limit`` ``(content type id, object id)`` with a step due before ``now``.

    A step whose timeout was handled (``escalation_level`` 1) or that has no deadline is
    never returned; the earliest due come first.
    """
    rows = (
        ApprovalInstance.objects.filter(
            status=ApprovalStatus.CURRENT, due_date__lte=now, escalation_level=0
        )
        .order_by("due_date", "id")
        .values_list("flow__content_type_id", "flow__object_id")[: limit * 4]
    )
    keys: list[tuple[int, str]] = []
    for key in rows:
        if key not in keys:
            keys.append(key)
            if len(keys) == limit:
                break
    return keys


def expired_steps(content_type_id: int, object_id: str, now: Any) -> list[StepInfo]:
    """Return the object's current steps due before ``now`` and not handled yet.

    Call under the attachment's lock: a decision that landed first has closed them.
    """
    queryset = _current_rows_query(content_type_id, object_id)
    rows = list(queryset)
    due = [
        row
        for row in rows
        if row.due_date is not None and row.due_date <= now and row.escalation_level == 0
    ]
    approvers = tuple(sorted({row.assigned_to_id for row in rows if row.assigned_to_id}))
    for row in due:
        _prime_role(row)
    return [describe(row, approvers=approvers) for row in due]


def on_timeout_of(step: StepInfo) -> dict[str, Any] | None:
    """Return the ``on_timeout`` spec stored on ``step`` (None: notify only)."""
    return (step.row.extra_fields or {}).get("on_timeout")


def due_at_of(step: StepInfo) -> Any:
    """Return the due time of ``step``, None without a deadline."""
    return step.row.due_date


def mark_timeout_handled(steps: list[StepInfo]) -> None:
    """Record that the timeout of these steps was applied, so it never applies twice."""
    ApprovalInstance.objects.filter(pk__in=[step.row.pk for step in steps]).update(
        escalation_level=1
    )


def approve_on_timeout(steps: list[StepInfo], *, comment: str) -> None:
    """Approve these steps for their holders, recorded as taken by nobody (the clock)."""
    for step in steps:
        row = step.row
        if not ApprovalInstance.objects.filter(pk=row.pk, status=ApprovalStatus.CURRENT).exists():
            continue  # the package closed it with a sibling (an "anyone" role step)
        approve(step, user=row.assigned_to, comment=comment, form_data=None)
        ApprovalInstance.objects.filter(pk=row.pk).update(action_user=None)


def current_steps(content_type_id: int, object_id: str) -> list[StepInfo]:
    """Return every current step of an object, knowing every current approver (one query)."""
    rows = _current_rows_statement.fetch(content_type_id=content_type_id, object_id=str(object_id))
    approvers = tuple(sorted({row.assigned_to_id for row in rows if row.assigned_to_id}))
    return [describe(row, approvers=approvers) for row in rows]


def hand_over(
    steps: list[StepInfo],
    *,
    to_user: Any = None,
    to_role: Any = None,
    escalated: bool,
    user: Any,
    reason: str,
    left_out: int | None = None,
) -> list[int]:
    """Close ``steps`` (escalated, else cancelled) and open the same step for
    ``to_user`` or every active member of ``to_role`` (any one of them decides).

    The new rows have no deadline: a step escalated or reassigned is never timed out again.
    ``left_out`` (the user who started the workflow, unless self-approval is allowed) gets no
    share of a role. Return the new holders' ids.
    """
    assert steps and (to_user is None) != (to_role is None)
    first = steps[0].row
    extra = dict(first.extra_fields or {})
    for key in ("checked_in", "checked_in_by", "checked_in_at", "left_out", "substitute_for"):
        extra.pop(key, None)
    now = timezone.now()
    ApprovalInstance.objects.filter(pk__in=[step.row.pk for step in steps]).update(
        status=ApprovalStatus.ESCALATED if escalated else ApprovalStatus.CANCELLED,
        action_user=user,
        comment=reason,
        updated_at=now,
    )
    common: dict[str, Any] = {
        "flow_id": first.flow_id,
        "step_number": first.step_number,
        "status": ApprovalStatus.CURRENT,
        "approval_type": first.approval_type,
        "extra_fields": extra,
    }
    if to_user is not None:
        ApprovalInstance.objects.bulk_create([ApprovalInstance(assigned_to=to_user, **common)])
        return [to_user.pk]
    members = list(
        get_user_model()
        .objects.filter(is_active=True, **{role_member_field(): to_role.pk})
        .exclude(pk__in=[left_out] if left_out is not None else [])
        .order_by("id")
        .values_list("pk", flat=True)
    )
    if not members:
        raise WorkflowValidationError(
            "The role has no active member who may take the step (the user who started the "
            "workflow cannot approve it).",
            field="toRoleId",
        )
    role_type = ContentType.objects.get_for_model(to_role)
    ApprovalInstance.objects.bulk_create(
        [
            ApprovalInstance(
                assigned_to_id=member,
                assigned_role_content_type=role_type,
                assigned_role_object_id=str(to_role.pk),
                role_selection_strategy=RoleSelectionStrategy.ANYONE,
                **common,
            )
            for member in members
        ]
    )
    return members


def due_at_subquery() -> Subquery:
    """Return, for attachment querysets, the earliest due time of the object's current steps."""
    return Subquery(
        ApprovalInstance.objects.filter(
            status=ApprovalStatus.CURRENT,
            due_date__isnull=False,
            flow__content_type_id=OuterRef("content_type_id"),
            flow__object_id=OuterRef("object_id"),
        )
        .order_by("due_date")
        .values("due_date")[:1]
    )


def overdue_exists(now: Any) -> Exists:
    """Return, for attachment querysets, an expression true where a current step is overdue."""
    return Exists(
        ApprovalInstance.objects.filter(
            status=ApprovalStatus.CURRENT,
            due_date__lte=now,
            flow__content_type_id=OuterRef("content_type_id"),
            flow__object_id=OuterRef("object_id"),
        )
    )
