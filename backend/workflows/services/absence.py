"""Out-of-office: a user's absence window and the substitute who takes their new steps.

While ``starts_at <= now < ends_at``, every step that would be assigned to the user by name
(a user approval of a stage that opens, an escalation to them) goes to the substitute
instead, and the event that opened it records ``{"user", "substitute"}`` in its
``details["substitutions"]``. Steps the user already holds stay theirs (a manager can
reassign them), role steps are shared among the role's members as usual, and a substitute
who is away too is not followed further (one hop).

A delegation is different: the holder hands one step they already hold to someone, once,
and it is recorded as DELEGATED on that step.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.workflows.companies import get_company_id_for_user
from backend.workflows.exceptions import NotFoundError, WorkflowValidationError
from backend.workflows.input_limits import check_text
from backend.workflows.models import OutOfOffice
from backend.workflows.services.running import _require_user, _resolve_user

MAX_ABSENCE = timedelta(days=366)


@transaction.atomic
def set_out_of_office(
    *,
    user: Any,
    substitute: Any,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
) -> OutOfOffice:
    """Set (or replace) ``user``'s absence window and substitute (active, same company)."""
    _require_user(user)
    delegate = _resolve_user(substitute, "substituteId")
    company_id = get_company_id_for_user(user)
    if company_id is None or get_company_id_for_user(delegate) != company_id:
        raise NotFoundError("User not found.", field="substituteId")
    if not delegate.is_active:
        raise WorkflowValidationError("The substitute is not an active user.", field="substituteId")
    if delegate.pk == user.pk:
        raise WorkflowValidationError("You cannot be your own substitute.", field="substituteId")
    if not isinstance(starts_at, datetime) or not isinstance(ends_at, datetime):
        raise WorkflowValidationError("Give the start and end as date-times.", field="startsAt")
    for name, moment in (("startsAt", starts_at), ("endsAt", ends_at)):
        if timezone.is_naive(moment):
            raise WorkflowValidationError(
                "Give the date-time with its time zone (e.g. 2026-07-01T08:00:00Z).", field=name
            )
    if ends_at <= starts_at:
        raise WorkflowValidationError("The absence must end after it starts.", field="endsAt")
    if ends_at - starts_at > MAX_ABSENCE:
        raise WorkflowValidationError("An absence lasts at most 366 days.", field="endsAt")
    reason = (reason or "").strip()
    check_text(reason, "reason")
    if len(reason) > 500:
        raise WorkflowValidationError("The reason is longer than 500 characters.", field="reason")
    absence, _ = OutOfOffice.objects.update_or_create(
        user=user,
        defaults={
            "substitute": delegate,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "reason": reason,
        },
    )
    return absence


@transaction.atomic
def clear_out_of_office(*, user: Any) -> bool:
    """Remove ``user``'s absence; return whether there was one."""
    _require_user(user)
    deleted, _ = OutOfOffice.objects.filter(user=user).delete()
    return bool(deleted)


def get_out_of_office(user: Any) -> OutOfOffice | None:
    """Return ``user``'s absence window (past, present or future), or None."""
    return OutOfOffice.objects.select_related("substitute").filter(user=user).first()
