"""Validate and normalise the approvals list of a stage.

Each approval is a dict with the keys of django-dynamic-workflows:
``approval_type`` (``user`` | ``role``), ``approval_user`` (user id), ``user_role`` (role id),
``role_selection_strategy``, ``required_form`` (form id), plus ``behaviour`` (default
``approve``) and, for the quorum strategies, ``quorum_count`` / ``percentage_required``.

Deadlines: ``due_in`` (an ISO 8601 duration such as ``"P2D"`` / ``"PT4H"``, or a short form
``"48h"``, ``"30m"``, ``"2d"``), ``remind_before`` (same forms, shorter than ``due_in``) and
``on_timeout``: ``"reject"``, ``"approve"``, ``"notify"`` or ``{"action": "escalate", "user":
id}`` / ``{"action": "escalate", "role": id}``. Durations are stored as ISO 8601 strings,
``on_timeout`` as a dict with ``action`` (and ``user`` or ``role``).

Errors name the offending value by its path in the GraphQL input, as every other service
error does, e.g. ``pipelines[0].stages[1].approvals[0].userRole``, so a form can show the
message beside its field.

Nothing here falls back silently: an unknown user, role or form, an empty role, a role
with members of another company or an unknown strategy is a validation error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.dateparse import parse_duration
from django.utils.duration import duration_iso_string

from backend.workflows.companies import company_ids_for_users
from backend.workflows.constants import (
    ApprovalBehaviour,
    ApprovalType,
    RoleSelectionStrategy,
    TimeoutAction,
)
from backend.workflows.engine_settings import form_model_label
from backend.workflows.exceptions import WorkflowValidationError

APPROVAL_KEYS = {
    "approval_type",
    "approval_user",
    "user_role",
    "role_selection_strategy",
    "required_form",
    "behaviour",
    "quorum_count",
    "percentage_required",
    "due_in",
    "remind_before",
    "on_timeout",
}

MAX_DURATION = timedelta(days=366)
MAX_DURATION_TEXT = 40  # characters of a duration; longer text is refused unread
_SHORT_DURATION = re.compile(r"(\d{1,6})\s*([dhm])")
_SHORT_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_step_duration(value: Any, field: str) -> timedelta:
    """Parse ``due_in`` / ``remind_before``: ISO 8601 (``"P2D"``) or ``"48h"``, ``"30m"``, ``"2d"``."""
    duration: timedelta | None = None
    if isinstance(value, str) and len(value) <= MAX_DURATION_TEXT:
        text = value.strip()
        short = _SHORT_DURATION.fullmatch(text.lower())
        if short:
            duration = timedelta(**{_SHORT_UNITS[short.group(2)]: int(short.group(1))})
        elif text[:1] in ("P", "p"):
            duration = parse_duration(text.upper())
    if duration is None:
        raise WorkflowValidationError(
            f"{field} must be an ISO 8601 duration such as P2D or PT4H, or like 48h, 30m, 2d.",
            field=field,
        )
    if duration <= timedelta(0) or duration > MAX_DURATION:
        raise WorkflowValidationError(
            f"{field} must be longer than zero and at most 366 days.", field=field
        )
    return duration


def step_deadline(approval: dict[str, Any]) -> tuple[timedelta | None, timedelta | None]:
    """Return ``(due_in, remind_before)`` of a normalised approval (None when not set)."""
    due_in = approval.get("due_in")
    remind_before = approval.get("remind_before")
    return (
        parse_duration(due_in) if due_in else None,
        parse_duration(remind_before) if remind_before else None,
    )


def _normalise_deadline(
    raw: dict[str, Any],
    item: dict[str, Any],
    where: str,
    user_ids: dict[int, str],
    role_ids: dict[int, str],
) -> None:
    """Copy the validated deadline keys of ``raw`` into ``item``; record escalation targets."""
    has_due = raw.get("due_in") not in (None, "")
    for key, camel in (("remind_before", "remindBefore"), ("on_timeout", "onTimeout")):
        if raw.get(key) not in (None, "") and not has_due:
            raise WorkflowValidationError(f"{key} needs due_in.", field=f"{where}.{camel}")
    if not has_due:
        return
    due_in = parse_step_duration(raw["due_in"], f"{where}.dueIn")
    item["due_in"] = duration_iso_string(due_in)
    if raw.get("remind_before") not in (None, ""):
        remind = parse_step_duration(raw["remind_before"], f"{where}.remindBefore")
        if remind >= due_in:
            raise WorkflowValidationError(
                "remind_before must be shorter than due_in.", field=f"{where}.remindBefore"
            )
        item["remind_before"] = duration_iso_string(remind)
    on_timeout = raw.get("on_timeout")
    if on_timeout in (None, ""):
        return
    field = f"{where}.onTimeout"
    spec = {"action": on_timeout} if isinstance(on_timeout, str) else on_timeout
    if not isinstance(spec, dict) or set(spec) - {"action", "user", "role"}:
        raise WorkflowValidationError(
            "on_timeout must be reject, approve, notify or "
            '{"action": "escalate", "user": id} / {"action": "escalate", "role": id}.',
            field=field,
        )
    action = _lower(spec.get("action"))
    if action not in TimeoutAction.values:
        raise WorkflowValidationError(
            f"on_timeout must be one of {', '.join(TimeoutAction.values)}.", field=field
        )
    normalised: dict[str, Any] = {"action": action}
    if action == TimeoutAction.ESCALATE:
        has_user, has_role = spec.get("user") not in (None, ""), spec.get("role") not in (None, "")
        if has_user == has_role:
            raise WorkflowValidationError(
                "An escalation names exactly one user or one role.", field=field
            )
        if has_user:
            normalised["user"] = _as_id(spec["user"], f"{field}.user")
            user_ids.setdefault(normalised["user"], f"{field}.user")
        else:
            normalised["role"] = _as_id(spec["role"], f"{field}.role")
            role_ids.setdefault(normalised["role"], f"{field}.role")
    elif set(spec) - {"action"}:
        raise WorkflowValidationError(f"on_timeout {action} takes no user or role.", field=field)
    item["on_timeout"] = normalised


def role_model() -> Any:
    """Return the role model (``APPROVAL_ROLE_MODEL``, ``auth.Group`` by default)."""
    return apps.get_model(getattr(settings, "APPROVAL_ROLE_MODEL", None) or "auth.Group")


def role_member_field() -> str:
    """Return the user lookup that finds a role's members (``APPROVAL_ROLE_FIELD``)."""
    return getattr(settings, "APPROVAL_ROLE_FIELD", None) or "groups"


def form_model() -> Any:
    """Return the form model approvals may require (``FORM_MODEL`` / ``APPROVAL_DYNAMIC_FORM_MODEL``)."""
    return apps.get_model(form_model_label())


def form_schema(form: Any) -> dict[str, Any]:
    """Return a form's field definitions: ``schema``, or the seed's ``form_schema``."""
    for name in ("schema", "form_schema"):
        value = getattr(form, name, None)
        if isinstance(value, dict):
            return value
    return {}


def form_required_fields(form: Any) -> list[str]:
    """Return the names of the fields a form marks ``required`` (any form model)."""
    fields = form_schema(form).get("fields", [])
    if not isinstance(fields, list):
        return []
    return [
        str(item["name"])
        for item in fields
        if isinstance(item, dict) and item.get("name") and item.get("required")
    ]


def _as_id(value: Any, field: str) -> int:
    if isinstance(value, dict) and "val" in value:  # the seed also accepts {"val": id}
        value = value["val"]
    if hasattr(value, "pk"):
        value = value.pk
    if isinstance(value, bool):
        raise WorkflowValidationError(f"{field} must be an id.", field=field)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise WorkflowValidationError(f"{field} must be an id.", field=field) from None


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def validate_approvals(
    approvals: Iterable[dict[str, Any]] | None,
    *,
    company_id: int | None,
    field_prefix: str = "approvals",
) -> list[dict[str, Any]]:
    """Return the normalised approvals list, or raise ``WorkflowValidationError``.

    Users, roles and forms are checked in one query each, whatever the list length.
    """
    if approvals is None:
        return []
    if not isinstance(approvals, list | tuple):
        raise WorkflowValidationError("Approvals must be a list.", field=field_prefix)

    normalised: list[dict[str, Any]] = []
    user_ids: dict[int, str] = {}
    role_ids: dict[int, str] = {}
    form_ids: dict[int, str] = {}

    for index, raw in enumerate(approvals):
        where = f"{field_prefix}[{index}]"
        if not isinstance(raw, dict):
            raise WorkflowValidationError("Each approval must be an object.", field=where)
        unknown = set(raw) - APPROVAL_KEYS - {"approval_type_display", "strategy_display"}
        if unknown:
            raise WorkflowValidationError(
                f"Unknown approval keys: {', '.join(sorted(unknown))}.", field=where
            )
        approval_type = _lower(raw.get("approval_type"))
        if approval_type not in ApprovalType.values:
            raise WorkflowValidationError(
                f"approval_type must be one of {', '.join(ApprovalType.values)}.",
                field=f"{where}.approvalType",
            )
        behaviour = _lower(raw.get("behaviour") or ApprovalBehaviour.APPROVE)
        if behaviour not in ApprovalBehaviour.values:
            raise WorkflowValidationError(
                f"behaviour must be one of {', '.join(ApprovalBehaviour.values)}.",
                field=f"{where}.behaviour",
            )
        item: dict[str, Any] = {"approval_type": approval_type, "behaviour": behaviour}

        if approval_type == ApprovalType.USER:
            if raw.get("approval_user") in (None, ""):
                raise WorkflowValidationError(
                    "A user approval needs approval_user.", field=f"{where}.approvalUser"
                )
            item["approval_user"] = _as_id(raw["approval_user"], f"{where}.approvalUser")
            user_ids[item["approval_user"]] = f"{where}.approvalUser"
        else:
            if raw.get("user_role") in (None, ""):
                raise WorkflowValidationError(
                    "A role approval needs user_role.", field=f"{where}.userRole"
                )
            item["user_role"] = _as_id(raw["user_role"], f"{where}.userRole")
            role_ids[item["user_role"]] = f"{where}.userRole"
            strategy = _lower(raw.get("role_selection_strategy") or RoleSelectionStrategy.ANYONE)
            if strategy not in RoleSelectionStrategy.values:
                raise WorkflowValidationError(
                    "role_selection_strategy must be one of "
                    f"{', '.join(RoleSelectionStrategy.values)}.",
                    field=f"{where}.roleSelectionStrategy",
                )
            item["role_selection_strategy"] = strategy
            if strategy == RoleSelectionStrategy.QUORUM:
                count = raw.get("quorum_count")
                if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                    raise WorkflowValidationError(
                        "A quorum approval needs quorum_count >= 1.",
                        field=f"{where}.quorumCount",
                    )
                item["quorum_count"] = count
            if strategy == RoleSelectionStrategy.PERCENTAGE:
                percentage = raw.get("percentage_required")
                if (
                    not isinstance(percentage, int | float)
                    or isinstance(percentage, bool)
                    or not 0 < percentage <= 100
                ):
                    raise WorkflowValidationError(
                        "A percentage approval needs 0 < percentage_required <= 100.",
                        field=f"{where}.percentageRequired",
                    )
                item["percentage_required"] = percentage

        if raw.get("required_form") not in (None, ""):
            if behaviour == ApprovalBehaviour.MOVE:
                raise WorkflowValidationError(
                    "A move approval cannot require a form.", field=f"{where}.requiredForm"
                )
            item["required_form"] = _as_id(raw["required_form"], f"{where}.requiredForm")
            form_ids[item["required_form"]] = f"{where}.requiredForm"
        _normalise_deadline(raw, item, where, user_ids, role_ids)
        normalised.append(item)

    _check_users(user_ids, company_id)
    member_counts = check_roles(role_ids, company_id)
    _check_forms(form_ids, company_id)
    for index, item in enumerate(normalised):
        if item.get("role_selection_strategy") == RoleSelectionStrategy.QUORUM:
            members = member_counts[item["user_role"]]
            if item["quorum_count"] > members:
                raise WorkflowValidationError(
                    f"quorum_count {item['quorum_count']} exceeds the role's {members} active members.",
                    field=f"{field_prefix}[{index}].quorumCount",
                )
    return normalised


def _check_users(user_ids: dict[int, str], company_id: int | None) -> None:
    if not user_ids:
        return
    found = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "is_active"))
    companies = company_ids_for_users(list(found))
    for user_id, field in user_ids.items():
        if user_id not in found:
            raise WorkflowValidationError(f"User {user_id} does not exist.", field=field)
        if not found[user_id]:
            raise WorkflowValidationError(f"User {user_id} is not active.", field=field)
        if company_id is not None and companies[user_id] != company_id:
            raise WorkflowValidationError(
                f"User {user_id} does not belong to this company.", field=field
            )


def check_roles(role_ids: dict[int, str], company_id: int | None) -> dict[int, int]:
    """Check every role exists and has active members, all of this company."""
    if not role_ids:
        return {}
    roles = set(role_model().objects.filter(pk__in=role_ids).values_list("pk", flat=True))
    members: dict[int, list[int]] = {role_id: [] for role_id in role_ids}
    lookup = f"{role_member_field()}__in"
    for user_id, role_id in (
        get_user_model()
        .objects.filter(**{lookup: list(role_ids)}, is_active=True)
        .values_list("pk", role_member_field())
    ):
        if role_id in members:
            members[role_id].append(user_id)
    all_member_ids = sorted({uid for ids in members.values() for uid in ids})
    companies = company_ids_for_users(all_member_ids) if company_id is not None else {}
    for role_id, field in role_ids.items():
        if role_id not in roles:
            raise WorkflowValidationError(f"Role {role_id} does not exist.", field=field)
        if not members[role_id]:
            raise WorkflowValidationError(f"Role {role_id} has no active members.", field=field)
        if company_id is not None and any(companies[uid] != company_id for uid in members[role_id]):
            raise WorkflowValidationError(
                f"Role {role_id} has members outside this company.", field=field
            )
    return {role_id: len(ids) for role_id, ids in members.items()}


def _check_forms(form_ids: dict[int, str], company_id: int | None) -> None:
    if not form_ids:
        return
    model = form_model()
    queryset = model.objects.filter(pk__in=form_ids)
    if company_id is not None and any(f.name == "company" for f in model._meta.fields):
        queryset = queryset.filter(company_id=company_id)
    found = set(queryset.values_list("pk", flat=True))
    for form_id, field in form_ids.items():
        if form_id not in found:
            raise WorkflowValidationError(f"Form {form_id} does not exist.", field=field)
