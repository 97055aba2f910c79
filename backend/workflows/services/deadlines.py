"""Deadlines of open steps: reminders and what happens when a step is not decided in time.

``process_deadlines`` is what ``manage.py process_deadlines`` runs (every minute, from cron
or a systemd timer, on any number of hosts at once):

1. Reminders. Open steps whose reminder is due (``due - remind_before <= now``) are claimed
   with ``SELECT ... FOR UPDATE SKIP LOCKED`` and marked reminded in the same transaction,
   so two sweeps never remind the same step; REMINDED is recorded per attachment and the
   holders get the ``reminder`` e-mail after commit.
2. Timeouts. For each object with a step past its due time, the attachment row is locked
   with ``SKIP LOCKED`` (the lock every decision takes): a decision in progress wins, the
   sweep skips that attachment and the next run finds the step decided. Under the lock the
   expired steps are read again, so a decision that committed first leaves nothing to do.
   Then the approval's ``on_timeout`` applies, once:

   - ``escalate``: the step goes to the named user (or their substitute while they are out of
     office) or to every active member of the named role; ESCALATED, ``escalated`` e-mail.
   - ``reject``: TIMED_OUT, then REJECTED (by nobody: the actor is empty).
   - ``approve``: TIMED_OUT, then APPROVED by nobody and the usual move or completion.
   - ``notify`` (the default): TIMED_OUT, the holders keep the step; ``timed_out`` e-mail.

Every event is stored and published like any other (after commit, through the event
listeners); an escalated step has no deadline any more, so it never times out twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.workflows import approvals, transitions
from backend.workflows.approval_config import role_member_field, role_model
from backend.workflows.companies import get_company_id_for_user
from backend.workflows.constants import AttachmentStatus, EventType, TimeoutAction
from backend.workflows.deadline_emails import send_step_emails
from backend.workflows.events import save_events
from backend.workflows.exceptions import WorkflowError
from backend.workflows.models import WorkflowAttachment, WorkflowEvent
from backend.workflows.services.running import (
    _advance,
    _Decision,
    _event,
    _reject,
    _stages_if_stage_finished,
)

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
TIMEOUT_REASON = "The step was not decided before its due time."


@dataclass
class DeadlineRun:
    """What one ``process_deadlines`` run did (counts of attachments unless said otherwise)."""

    reminded_steps: int = 0
    escalated: int = 0
    rejected: int = 0
    approved: int = 0
    notified: int = 0
    # Attachments another process or a decision held locked: left for the next run.
    busy: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def timed_out(self) -> int:
        return self.escalated + self.rejected + self.approved + self.notified


def _iso(moment: Any) -> str:
    return moment.isoformat() if isinstance(moment, datetime) else ""


def _live_attachments(keys: set[tuple[int, str]]) -> dict[tuple[int, str], WorkflowAttachment]:
    """Return the in-progress attachments of these objects, one query."""
    if not keys:
        return {}
    condition = Q()
    by_type: dict[int, list[str]] = {}
    for content_type_id, object_id in keys:
        by_type.setdefault(content_type_id, []).append(object_id)
    for content_type_id, object_ids in by_type.items():
        condition |= Q(content_type_id=content_type_id, object_id__in=object_ids)
    return {
        (attachment.content_type_id, attachment.object_id): attachment
        for attachment in WorkflowAttachment.objects.filter(
            condition, status=AttachmentStatus.IN_PROGRESS
        ).select_related("current_stage", "current_pipeline")
    }


def send_reminders(*, now: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Remind the holders of every step whose reminder is due; return how many steps."""
    total = 0
    while True:
        with transaction.atomic():
            claimed = approvals.claim_reminders(now, limit=batch_size)
            if not claimed:
                return total
            total += len(claimed)
            attachments = _live_attachments({(s.content_type_id, s.object_id) for s in claimed})
            holders: dict[int, list[approvals.DueStep]] = {}
            for step in claimed:
                attachment = attachments.get((step.content_type_id, step.object_id))
                if attachment is not None and step.stage_id == attachment.current_stage_id:
                    holders.setdefault(attachment.pk, []).append(step)
            events = []
            by_id = {attachment.pk: attachment for attachment in attachments.values()}
            for attachment_id, steps in holders.items():
                attachment = by_id[attachment_id]
                user_ids = sorted({s.assignee_id for s in steps if s.assignee_id is not None})
                events.append(
                    _event(
                        attachment,
                        EventType.REMINDED,
                        None,
                        from_stage=attachment.current_stage,
                        from_pipeline=attachment.current_pipeline,
                        details={
                            "approvers_before": user_ids,
                            "reminded": user_ids,
                            "due_at": _iso(min(s.due_at for s in steps)),
                        },
                    )
                )
            save_events(events)
            for event in events:
                transaction.on_commit(
                    _mail("reminder", event.attachment_id, event.details["reminded"], event)
                )


def _mail(template: str, attachment_id: int, user_ids: list[int], event: WorkflowEvent) -> Any:
    due_at = (event.details or {}).get("due_at", "")
    reason = event.reason

    def send() -> None:
        send_step_emails(
            template, attachment_id=attachment_id, user_ids=user_ids, due_at=due_at, reason=reason
        )

    return send


def _escalation_target(spec: dict[str, Any], attachment: WorkflowAttachment, now: datetime) -> Any:
    """Return the user or role a step escalates to, or raise ``WorkflowError`` saying why not.

    Who started the workflow never gets the step (unless self-approval is allowed).
    """
    company_id = attachment.company_id
    left_out = None if transitions.self_approval_allowed() else attachment.started_by_id
    if spec.get("user") is not None:
        user = (
            get_user_model()
            .objects.select_related("out_of_office__substitute")
            .filter(pk=spec["user"], is_active=True)
            .first()
        )
        if user is None or get_company_id_for_user(user) != company_id:
            raise WorkflowError(
                f"Escalation user {spec['user']} is not an active user of the company."
            )
        target = approvals.substitute_of(user, now) or user
        if target.pk == left_out:
            raise WorkflowError("The escalation user started the workflow and cannot approve it.")
        return target
    role = role_model().objects.filter(pk=spec.get("role")).first()
    if role is None:
        raise WorkflowError(f"Escalation role {spec.get('role')} no longer exists.")
    members = get_user_model().objects.filter(is_active=True, **{role_member_field(): role.pk})
    if left_out is not None:
        members = members.exclude(pk=left_out)
    if not members.exists():
        raise WorkflowError(f"Escalation role {role.pk} has no active member who may approve.")
    return role


def _time_out(key: tuple[int, str], now: datetime, run: DeadlineRun) -> None:
    """Apply the timeout of one object's expired step, in its own transaction."""
    content_type_id, object_id = key
    with transaction.atomic():
        attachment = (
            WorkflowAttachment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(
                "current_stage", "current_pipeline", "content_type__workflow_configuration"
            )
            .filter(
                content_type_id=content_type_id,
                object_id=object_id,
                status=AttachmentStatus.IN_PROGRESS,
            )
            .first()
        )
        if attachment is None:
            live = WorkflowAttachment.objects.filter(
                content_type_id=content_type_id,
                object_id=object_id,
                status=AttachmentStatus.IN_PROGRESS,
            ).exists()
            if live:
                run.busy += 1
            else:  # a flow without a running attachment: never look at it again
                approvals.mark_timeout_handled(
                    approvals.expired_steps(content_type_id, object_id, now)
                )
            return
        steps = approvals.expired_steps(content_type_id, object_id, now)
        if not steps:
            return  # decided (or handled) before the lock was ours
        if any(step.stage_id != attachment.current_stage_id for step in steps):
            approvals.mark_timeout_handled(steps)
            logger.warning(
                "Attachment %s: an expired step is not of the current stage", attachment.pk
            )
            return
        spec = approvals.on_timeout_of(steps[0]) or {"action": TimeoutAction.NOTIFY}
        due_at = _iso(approvals.due_at_of(steps[0]))
        holders = sorted({step.assignee_id for step in steps if step.assignee_id is not None})
        decision = _Decision(transitions.Action.APPROVE, attachment, None, steps[0], None, None)
        timed_out = decision.event(
            EventType.TIMED_OUT,
            from_stage=attachment.current_stage,
            from_pipeline=attachment.current_pipeline,
            reason=TIMEOUT_REASON,
            details={"on_timeout": spec["action"], "due_at": due_at, "holders": holders},
        )
        action = spec["action"]
        if action == TimeoutAction.ESCALATE:
            try:
                target = _escalation_target(spec, attachment, now)
            except WorkflowError as error:
                action = TimeoutAction.NOTIFY
                timed_out.details["escalation_failed"] = error.message
                logger.warning("Attachment %s: %s", attachment.pk, error.message)
        if action == TimeoutAction.ESCALATE:
            is_user = isinstance(target, get_user_model())
            after = approvals.hand_over(
                steps,
                to_user=target if is_user else None,
                to_role=None if is_user else target,
                escalated=True,
                user=None,
                reason=TIMEOUT_REASON,
                left_out=None if transitions.self_approval_allowed() else attachment.started_by_id,
            )
            details = {"due_at": due_at, "holders": holders, "approvers_after": after}
            details["to_user" if is_user else "to_role"] = target.pk
            event = decision.event(
                EventType.ESCALATED,
                from_stage=attachment.current_stage,
                from_pipeline=attachment.current_pipeline,
                delegate=target if is_user else None,
                reason=TIMEOUT_REASON,
                details=details,
            )
            decision.finish([event])
            transaction.on_commit(_mail("escalated", attachment.pk, after, event))
            run.escalated += 1
        elif action == TimeoutAction.REJECT:
            decision.action = transitions.Action.REJECT
            decision.leading = [timed_out]
            _reject(decision, reason=TIMEOUT_REASON)
            transaction.on_commit(_mail("timed_out", attachment.pk, holders, timed_out))
            run.rejected += 1
        elif action == TimeoutAction.APPROVE:
            approvals.approve_on_timeout(steps, comment=TIMEOUT_REASON)
            events = [
                timed_out,
                decision.event(
                    EventType.APPROVED,
                    from_stage=attachment.current_stage,
                    from_pipeline=attachment.current_pipeline,
                    reason=TIMEOUT_REASON,
                ),
            ]
            stages = _stages_if_stage_finished(attachment, steps[0].flow_id)
            if stages is not None:
                events.extend(_advance(decision, steps[0].flow, stages))
            decision.finish(events)
            run.approved += 1
        else:
            approvals.mark_timeout_handled(steps)
            decision.finish([timed_out])
            transaction.on_commit(_mail("timed_out", attachment.pk, holders, timed_out))
            run.notified += 1


def apply_timeouts(
    *, now: datetime, batch_size: int = DEFAULT_BATCH_SIZE, run: DeadlineRun | None = None
) -> DeadlineRun:
    """Apply ``on_timeout`` to every step past its due time (each object in its own transaction)."""
    run = run or DeadlineRun()
    seen: set[tuple[int, str]] = set()
    while True:
        keys = [
            key
            for key in approvals.objects_with_expired_steps(now, limit=batch_size)
            if key not in seen
        ]
        if not keys:
            return run
        for key in keys:
            seen.add(key)
            try:
                _time_out(key, now, run)
            except Exception as error:  # one broken workflow must not stop the sweep
                logger.exception("Timeout of %s failed", key)
                run.failed.append(f"{key[0]}:{key[1]}: {error}")


def process_deadlines(
    *, now: datetime | None = None, batch_size: int = DEFAULT_BATCH_SIZE
) -> DeadlineRun:
    """Send due reminders, then apply the timeouts of expired steps (idempotent; see module doc).

    ``now`` defaults to ``timezone.now()``; tests pass their own clock.
    """
    now = now or timezone.now()
    run = DeadlineRun()
    run.reminded_steps = send_reminders(now=now, batch_size=batch_size)
    apply_timeouts(now=now, batch_size=batch_size, run=run)
    return run
