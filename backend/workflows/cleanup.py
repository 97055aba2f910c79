"""Delete finished workflow attachments and everything that only they used.

What goes, per finished attachment: its audit events, the approval flow and steps of its object
(only when it is the object's newest attachment: a newer attachment owns the flow), the
attachment, and its hidden running copy of the workflow (pipelines, stages, actions) once no
attachment uses that copy any more. What stays: business objects, templates (workflows that
are not hidden), configurations, and every attachment that is not started or in progress.

Guarantees:

- Batched: attachment ids are read in keyset order, ``batch_size`` (1,000) at a time, and
  each batch is deleted in its own transaction, so memory stays flat and a failure loses
  one batch at most.
- Safe next to running approvals: only finished statuses are accepted, and each batch
  re-reads and locks its rows (``select_for_update``) before deleting, so an attach or a
  decision on the same object waits for the batch (and then finds the new state).
- Idempotent: a second run with the same arguments deletes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from backend.workflows import approvals
from backend.workflows.constants import FINISHED_STATUSES, AttachmentStatus
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import Workflow, WorkflowAttachment, WorkflowEvent

DEFAULT_STATUSES = (AttachmentStatus.COMPLETED, AttachmentStatus.REJECTED)
DEFAULT_BATCH_SIZE = 1000
AGE_THRESHOLDS = (30, 90, 365)

Progress = Callable[[int, int], None]


def _clean_statuses(statuses: Iterable[str] | None) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(statuses or DEFAULT_STATUSES))
    unknown = [status for status in chosen if status not in FINISHED_STATUSES]
    if unknown:
        raise WorkflowValidationError(
            f"Only finished attachments can be cleaned up ({', '.join(FINISHED_STATUSES)}); "
            f"not {', '.join(map(str, unknown))}.",
            field="statuses",
        )
    return chosen


def finished_attachments(
    *, older_than_days: int, statuses: Iterable[str] | None = None, now: datetime | None = None
) -> QuerySet[WorkflowAttachment]:
    """Return the attachments in ``statuses`` that finished at least ``older_than_days`` ago."""
    if (
        isinstance(older_than_days, bool)
        or not isinstance(older_than_days, int)
        or older_than_days < 0
    ):
        raise WorkflowValidationError(
            "older_than_days must be a whole number of days, 0 or more.", field="older_than_days"
        )
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    return WorkflowAttachment.objects.filter(
        status__in=_clean_statuses(statuses), completed_at__isnull=False, completed_at__lte=cutoff
    )


def _newer_attachment_exists() -> Exists:
    return Exists(
        WorkflowAttachment.objects.filter(
            content_type_id=OuterRef("content_type_id"),
            object_id=OuterRef("object_id"),
            pk__gt=OuterRef("pk"),
        )
    )


def delete_finished_attachments(
    attachment_ids: Sequence[int], *, statuses: Iterable[str] = FINISHED_STATUSES
) -> dict[str, int]:
    """Delete these attachments (those still finished) with their flows, events and unused copies.

    One transaction. Rows are locked and their status re-checked first; ids of live attachments
    are ignored. Returns the number of rows deleted of each kind.
    """
    statuses = _clean_statuses(statuses)
    with transaction.atomic():
        rows = list(
            WorkflowAttachment.objects.select_for_update()
            .filter(pk__in=list(attachment_ids), status__in=statuses)
            .annotate(has_newer=_newer_attachment_exists())
            .values_list("pk", "content_type_id", "object_id", "workflow_id", "has_newer")
        )
        if not rows:
            return _empty_counts()
        ids = [row[0] for row in rows]
        events, _ = WorkflowEvent.objects.filter(attachment_id__in=ids).delete()
        attachments, _ = WorkflowAttachment.objects.filter(pk__in=ids).delete()
        # The flow belongs to the object's newest attachment; an older one leaves it alone.
        objects: dict[int, list[str]] = {}
        for _, content_type_id, object_id, _, has_newer in rows:
            if not has_newer:
                objects.setdefault(content_type_id, []).append(object_id)
        flows = steps = 0
        for content_type_id, object_ids in objects.items():
            deleted_flows, deleted_steps = approvals.delete_flows_of_objects(
                content_type_id, object_ids
            )
            flows, steps = flows + deleted_flows, steps + deleted_steps
        unused_copies = Workflow.objects.filter(
            pk__in={row[3] for row in rows}, is_hidden=True
        ).exclude(Exists(WorkflowAttachment.objects.filter(workflow_id=OuterRef("pk"))))
        _, deleted = unused_copies.delete()
    return {
        "attachments_deleted": attachments,
        "events_deleted": events,
        "approval_flows_deleted": flows,
        "approval_steps_deleted": steps,
        "workflow_copies_deleted": deleted.get(Workflow._meta.label, 0),
    }


def _empty_counts() -> dict[str, int]:
    return {
        "attachments_deleted": 0,
        "events_deleted": 0,
        "approval_flows_deleted": 0,
        "approval_steps_deleted": 0,
        "workflow_copies_deleted": 0,
    }


def _dry_run_counts(queryset: QuerySet[WorkflowAttachment]) -> dict[str, int]:
    newest = queryset.annotate(has_newer=_newer_attachment_exists()).filter(has_newer=False)
    flows, steps = approvals.count_flows_of_objects(newest)
    copies = (
        Workflow.objects.filter(is_hidden=True, pk__in=queryset.values("workflow_id"))
        .exclude(
            Exists(
                WorkflowAttachment.objects.filter(workflow_id=OuterRef("pk")).exclude(
                    pk__in=queryset.values("pk")
                )
            )
        )
        .count()
    )
    return {
        "attachments_deleted": queryset.count(),
        "events_deleted": WorkflowEvent.objects.filter(
            attachment__in=queryset.values("pk")
        ).count(),
        "approval_flows_deleted": flows,
        "approval_steps_deleted": steps,
        "workflow_copies_deleted": copies,
    }


def cleanup_completed_workflow_attachments(
    *,
    older_than_days: int = 30,
    dry_run: bool = False,
    statuses: Iterable[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Delete attachments finished (default: completed or rejected) at least ``older_than_days`` ago.

    With ``dry_run`` nothing is deleted and the counts say what would be. The result has
    ``attachments_deleted``, ``events_deleted``, ``approval_flows_deleted``,
    ``approval_steps_deleted``, ``workflow_copies_deleted``, plus ``dry_run``,
    ``older_than_days`` and ``statuses``. ``progress(done, total)`` is called after each batch.
    """
    chosen = _clean_statuses(statuses)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise WorkflowValidationError("batch_size must be at least 1.", field="batch_size")
    queryset = finished_attachments(older_than_days=older_than_days, statuses=chosen)
    summary = {
        "dry_run": dry_run,
        "older_than_days": older_than_days,
        "statuses": [str(status) for status in chosen],
    }
    if dry_run:
        return {**_dry_run_counts(queryset), **summary}
    total = queryset.count() if progress else 0
    totals: Counter[str] = Counter(_empty_counts())
    last_id, done = 0, 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        last_id = ids[-1]
        totals.update(delete_finished_attachments(ids, statuses=chosen))
        done += len(ids)
        if progress:
            progress(min(done, total), total)
    return {**dict(totals), **summary}


def get_cleanup_statistics(*, now: datetime | None = None) -> dict[str, Any]:
    """Count attachments by status and finished (completed or rejected) ones by age; one query.

    Keys: ``total_attachments``, ``<status>_attachments`` for every status,
    ``finished_attachments`` (completed + rejected), ``by_age`` (a list of ``{"days",
    "count"}`` for 30, 90 and 365 days) and ``recommended_days`` (30 when something older
    than 30 days could be cleaned, else ``None``).
    """
    now = now or timezone.now()
    finished = Q(status__in=DEFAULT_STATUSES, completed_at__isnull=False)
    aggregates: dict[str, Any] = {"total": Count("pk")}
    for status in AttachmentStatus.values:
        aggregates[status] = Count("pk", filter=Q(status=status))
    for days in AGE_THRESHOLDS:
        aggregates[f"older_{days}"] = Count(
            "pk", filter=finished & Q(completed_at__lte=now - timedelta(days=days))
        )
    counts = WorkflowAttachment.objects.aggregate(**aggregates)
    statistics: dict[str, Any] = {"total_attachments": counts["total"]}
    for status in AttachmentStatus.values:
        statistics[f"{status}_attachments"] = counts[status]
    statistics["finished_attachments"] = (
        counts[AttachmentStatus.COMPLETED] + counts[AttachmentStatus.REJECTED]
    )
    statistics["by_age"] = [
        {"days": days, "count": counts[f"older_{days}"]} for days in AGE_THRESHOLDS
    ]
    statistics["recommended_days"] = (
        AGE_THRESHOLDS[0] if counts[f"older_{AGE_THRESHOLDS[0]}"] else None
    )
    return statistics


def _percent(part: int, whole: int) -> str:
    return f"{(part / whole * 100) if whole else 0.0:.1f}%"


def format_cleanup_statistics(statistics: dict[str, Any]) -> str:
    """Render statistics as the seed's ``cleanup_workflows --stats`` report."""
    total = statistics["total_attachments"]
    finished = statistics["finished_attachments"]
    lines = [
        "=== Workflow Cleanup Statistics ===",
        "",
        "Workflow Attachments (Instances):",
        f"  Total: {total}",
    ]
    shown = [
        ("Completed", AttachmentStatus.COMPLETED, True),
        ("Rejected", AttachmentStatus.REJECTED, True),
        ("In Progress", AttachmentStatus.IN_PROGRESS, True),
        ("Not Started", AttachmentStatus.NOT_STARTED, False),
        ("Cancelled", AttachmentStatus.CANCELLED, False),
    ]
    for label, status, always in shown:
        count = statistics[f"{status}_attachments"]
        if always or count:
            lines.append(f"  {label}: {count} ({_percent(count, total)})")
    lines += ["", "Completed/Rejected by Age:"]
    for bucket in statistics["by_age"]:
        lines.append(
            f"  Older than {bucket['days']} days: {bucket['count']} ({_percent(bucket['count'], finished)})"
        )
    lines += ["", "Recommendations:"]
    if statistics["recommended_days"] is not None:
        lines.append(
            "  → Consider running: python manage.py cleanup_workflows "
            f"--days={statistics['recommended_days']}"
        )
    else:
        lines.append(
            "  → Nothing to clean up: no completed or rejected workflow is older than 30 days."
        )
    return "\n".join(lines)
