"""Cleanup of finished attachments: what goes, what stays, dry runs, statistics, the command."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from approval_workflow.models import ApprovalInstance
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.demo.models import PurchaseRequest
from backend.workflows.constants import ActionType, AttachmentStatus, EventType
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.models import (
    Pipeline,
    Stage,
    Workflow,
    WorkflowAction,
    WorkflowAttachment,
    WorkflowEvent,
)
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    cancel_workflow,
    cleanup_completed_workflow_attachments,
    create_workflow_action,
    get_cleanup_statistics,
    reject_stage,
)
from tests.support.action_handlers import ALLOWED, CALLS
from tests.support.database_state import attachment_state, database_state
from tests.support.helpers import make_purchase_request
from tests.support.purchase_steps import (
    STAGE_ORDER,
    approve_current_stage,
    current_approvers,
    start_purchase_request,
)


def age(attachment, days):
    """Pretend the attachment finished ``days`` days ago."""
    WorkflowAttachment.objects.filter(pk=attachment.pk).update(
        completed_at=timezone.now() - timedelta(days=days)
    )


def completed(acme, days):
    request, attachment = start_purchase_request(acme)
    for _ in STAGE_ORDER:
        approve_current_stage(attachment, request)
    age(attachment, days)
    return request, attachment


def rejected(acme, days):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    reject_stage(obj=request, user=acme.user("budget_manager1"), reason="No")
    age(attachment, days)
    return request, attachment


def flow_rows(request):
    return ApprovalInstance.objects.filter(flow__object_id=str(request.pk)).count()


@pytest.fixture
def history(acme):
    """Two old finished attachments, one recent, one in progress and one old cancelled."""
    old_done = completed(acme, days=40)
    old_rejected = rejected(acme, days=100)
    recent = completed(acme, days=5)
    running = start_purchase_request(acme, at_stage="Budget Approval")
    cancelled_request, cancelled = start_purchase_request(acme)
    cancel_workflow(obj=cancelled_request, user=acme.user("requester"))
    age(cancelled, 400)
    return {
        "old_done": old_done,
        "old_rejected": old_rejected,
        "recent": recent,
        "running": running,
        "cancelled": (cancelled_request, cancelled),
    }


def test_cleanup_deletes_old_finished_attachments_with_their_flows_events_and_copies(acme, history):
    old_ids = [history["old_done"][1].pk, history["old_rejected"][1].pk]
    old_copies = [history["old_done"][1].workflow_id, history["old_rejected"][1].workflow_id]
    steps = sum(flow_rows(history[key][0]) for key in ("old_done", "old_rejected"))
    events = WorkflowEvent.objects.filter(attachment_id__in=old_ids).count()
    requests_before = PurchaseRequest.objects.count()

    result = cleanup_completed_workflow_attachments(older_than_days=30)

    assert result == {
        "attachments_deleted": 2,
        "events_deleted": events,
        "approval_flows_deleted": 2,
        "approval_steps_deleted": steps,
        "workflow_copies_deleted": 2,
        "dry_run": False,
        "older_than_days": 30,
        "statuses": ["completed", "rejected"],
    }
    assert not WorkflowAttachment.objects.filter(pk__in=old_ids).exists()
    assert not WorkflowEvent.objects.filter(attachment_id__in=old_ids).exists()
    assert not Workflow.objects.filter(pk__in=old_copies).exists()
    assert not Pipeline.objects.filter(workflow_id__in=old_copies).exists()
    assert not Stage.objects.filter(pipeline__workflow_id__in=old_copies).exists()
    for key in ("old_done", "old_rejected"):
        assert flow_rows(history[key][0]) == 0
    # kept: business objects, the template, recent, running and cancelled attachments
    assert PurchaseRequest.objects.count() == requests_before
    assert Workflow.objects.filter(pk=acme.workflow.pk, is_hidden=False).exists()
    assert sorted(WorkflowAttachment.objects.values_list("status", flat=True)) == [
        "cancelled",
        "completed",
        "in_progress",
    ]
    assert flow_rows(history["running"][0]) > 0 and flow_rows(history["recent"][0]) > 0


def test_running_workflows_continue_after_a_cleanup(acme, history):
    cleanup_completed_workflow_attachments(older_than_days=0)

    request, attachment = history["running"]
    approve_current_stage(attachment, request)
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Final Finance Sign-off",
    )


def test_dry_run_counts_what_a_real_run_deletes_and_changes_nothing(acme, history):
    before = database_state()

    preview = cleanup_completed_workflow_attachments(older_than_days=30, dry_run=True)

    assert database_state() == before
    result = cleanup_completed_workflow_attachments(older_than_days=30)
    assert preview == {**result, "dry_run": True}
    assert preview["attachments_deleted"] == 2


def test_cleanup_is_idempotent(acme, history):
    cleanup_completed_workflow_attachments(older_than_days=30)
    before = database_state()

    again = cleanup_completed_workflow_attachments(older_than_days=30)

    assert database_state() == before
    assert {key: value for key, value in again.items() if key.endswith("_deleted")} == {
        "attachments_deleted": 0,
        "events_deleted": 0,
        "approval_flows_deleted": 0,
        "approval_steps_deleted": 0,
        "workflow_copies_deleted": 0,
    }


def test_status_filter_and_cancelled_attachments(acme, history):
    only_rejected = cleanup_completed_workflow_attachments(
        older_than_days=30, statuses=["rejected"]
    )
    assert only_rejected["attachments_deleted"] == 1
    assert WorkflowAttachment.objects.filter(pk=history["old_done"][1].pk).exists()

    cancelled = cleanup_completed_workflow_attachments(older_than_days=365, statuses=["cancelled"])
    assert cancelled["attachments_deleted"] == 1
    assert not WorkflowAttachment.objects.filter(pk=history["cancelled"][1].pk).exists()


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        (
            {"older_than_days": 30, "statuses": ["in_progress"]},
            "statuses",
            "Only finished attachments can be cleaned up (completed, rejected, cancelled); not in_progress.",
        ),
        (
            {"older_than_days": -1},
            "older_than_days",
            "older_than_days must be a whole number of days, 0 or more.",
        ),
        ({"older_than_days": 30, "batch_size": 0}, "batch_size", "batch_size must be at least 1."),
    ],
)
def test_cleanup_refuses_bad_arguments(acme, history, arguments, field, message):
    before = database_state()

    with pytest.raises(WorkflowValidationError) as raised:
        cleanup_completed_workflow_attachments(**arguments)

    assert (raised.value.field, raised.value.message) == (field, message)
    assert database_state() == before


def test_an_older_attachment_leaves_the_flow_of_a_newer_one_alone(acme):
    # given: rejected long ago, then attached again and running
    request, old = rejected(acme, days=60)
    new = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )
    steps_before = flow_rows(request)

    result = cleanup_completed_workflow_attachments(older_than_days=30)

    assert (result["attachments_deleted"], result["approval_flows_deleted"]) == (1, 0)
    assert flow_rows(request) == steps_before
    approve_current_stage(new, request)
    assert attachment_state(new)[2] == "Budget Approval"


def test_templates_run_directly_are_never_deleted(acme):
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.company, disable_clone=True
    )
    reject_stage(obj=request, user=current_approvers(attachment)[0], reason="No")
    age(attachment, 90)

    result = cleanup_completed_workflow_attachments(older_than_days=30)

    assert (result["attachments_deleted"], result["workflow_copies_deleted"]) == (1, 0)
    assert Workflow.objects.filter(pk=acme.workflow.pk).exists()
    assert Stage.objects.filter(pipeline__workflow=acme.workflow).count() == 4


def test_batches_give_the_same_result_and_report_progress(acme, history):
    calls = []

    result = cleanup_completed_workflow_attachments(
        older_than_days=30, batch_size=1, progress=lambda done, total: calls.append((done, total))
    )

    assert result["attachments_deleted"] == 2 and result["workflow_copies_deleted"] == 2
    assert calls == [(1, 2), (2, 2)]


def test_each_batch_costs_the_same_queries_whatever_its_size(acme):
    def cost(count):
        for _ in range(count):
            rejected(acme, days=60)
        with CaptureQueriesContext(connection) as captured:
            result = cleanup_completed_workflow_attachments(older_than_days=30)
        assert result["attachments_deleted"] == count
        return len(captured.captured_queries)

    assert cost(1) == cost(4)


def test_statistics(acme, history):
    assert get_cleanup_statistics() == {
        "total_attachments": 5,
        "not_started_attachments": 0,
        "in_progress_attachments": 1,
        "completed_attachments": 2,
        "rejected_attachments": 1,
        "cancelled_attachments": 1,
        "finished_attachments": 3,
        "by_age": [
            {"days": 30, "count": 2},
            {"days": 90, "count": 1},
            {"days": 365, "count": 0},
        ],
        "recommended_days": 30,
    }


def test_stats_command_prints_the_seed_report(acme, history):
    out = io.StringIO()

    call_command("cleanup_workflows", "--stats", stdout=out)

    assert out.getvalue() == (
        "=== Workflow Cleanup Statistics ===\n"
        "\n"
        "Workflow Attachments (Instances):\n"
        "  Total: 5\n"
        "  Completed: 2 (40.0%)\n"
        "  Rejected: 1 (20.0%)\n"
        "  In Progress: 1 (20.0%)\n"
        "  Cancelled: 1 (20.0%)\n"
        "\n"
        "Completed/Rejected by Age:\n"
        "  Older than 30 days: 2 (66.7%)\n"
        "  Older than 90 days: 1 (33.3%)\n"
        "  Older than 365 days: 0 (0.0%)\n"
        "\n"
        "Recommendations:\n"
        "  → Consider running: python manage.py cleanup_workflows --days=30\n"
    )


def test_stats_command_on_an_empty_database(db):
    out = io.StringIO()

    call_command("cleanup_workflows", "--stats", stdout=out)

    assert "  Total: 0\n  Completed: 0 (0.0%)\n" in out.getvalue()
    assert out.getvalue().endswith(
        "  → Nothing to clean up: no completed or rejected workflow is older than 30 days.\n"
    )


def test_cleanup_command_dry_run_then_real_run(acme, history):
    events = WorkflowEvent.objects.filter(
        attachment_id__in=[history["old_done"][1].pk, history["old_rejected"][1].pk]
    ).count()
    steps = sum(flow_rows(history[key][0]) for key in ("old_done", "old_rejected"))
    counts = (
        f"2 attachments, 2 approval flows with {steps} approval steps, "
        f"2 hidden workflow copies and {events} audit events"
    )
    out = io.StringIO()

    call_command("cleanup_workflows", "--days", "30", "--dry-run", stdout=out)
    assert out.getvalue() == (
        "Dry run (completed and rejected workflow attachments finished at least 30 days ago): "
        f"would delete {counts}. Nothing was deleted.\n"
    )
    assert WorkflowAttachment.objects.count() == 5

    out = io.StringIO()
    call_command("cleanup_workflows", "--days=30", "--status", "completed", "rejected", stdout=out)
    assert out.getvalue() == (
        "Cleaned up completed and rejected workflow attachments finished at least 30 days ago: "
        f"deleted {counts}.\n"
    )
    assert WorkflowAttachment.objects.count() == 3


def test_cleanup_command_needs_stats_or_days(db):
    with pytest.raises(CommandError, match="Give --stats, or --days N"):
        call_command("cleanup_workflows")
    with pytest.raises(CommandError, match="older_than_days must be a whole number"):
        call_command("cleanup_workflows", "--days", "-3")


# --------------------------------------------------------------------------- automatic cleanup


@pytest.fixture
def completion_probe(settings):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED]
    CALLS.clear()
    yield CALLS
    CALLS.clear()


def test_auto_cleanup_removes_a_completed_attachment_after_its_completion_actions(
    acme, settings, completion_probe, django_capture_on_commit_callbacks
):
    settings.WORKFLOW_AUTO_CLEANUP_COMPLETED = True
    create_workflow_action(
        workflow=acme.workflow,
        action_type=ActionType.ON_WORKFLOW_COMPLETE,
        function_path=f"{ALLOWED}.record_attachment_exists",
    )
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    first, second = current_approvers(attachment)
    approve_stage(obj=request, user=first)

    with django_capture_on_commit_callbacks(execute=True):
        approve_stage(obj=request, user=second)

    assert [(name, params) for name, _, _, params in CALLS] == [("exists", {"exists": True})]
    assert not WorkflowAttachment.objects.filter(pk=attachment.pk).exists()
    assert not Workflow.objects.filter(pk=attachment.workflow_id).exists()
    assert not WorkflowAction.objects.filter(workflow_id=attachment.workflow_id).exists()
    assert flow_rows(request) == 0
    request.refresh_from_db()
    assert request.workflow_status == "approved"  # the business object stays, with its status


def test_auto_cleanup_is_off_by_default(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request, attachment = completed(acme, days=0)

    assert WorkflowAttachment.objects.get(pk=attachment.pk).status == AttachmentStatus.COMPLETED
    assert WorkflowEvent.objects.filter(
        attachment=attachment, event_type=EventType.COMPLETED
    ).exists()


def test_auto_cleanup_leaves_running_attachments(
    acme, settings, django_capture_on_commit_callbacks
):
    settings.WORKFLOW_AUTO_CLEANUP_COMPLETED = True

    with django_capture_on_commit_callbacks(execute=True):
        request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")

    assert attachment_state(attachment)[0] == AttachmentStatus.IN_PROGRESS


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cleanup_command_draws_a_progress_bar_on_a_terminal_only(acme, history):
    terminal = Terminal()

    call_command("cleanup_workflows", "--days", "30", "--batch-size", "1", stdout=terminal)

    assert terminal.getvalue().startswith(
        "\r  [###############---------------] 1/2\r  [##############################] 2/2\n"
        "Cleaned up completed and rejected workflow attachments"
    )
