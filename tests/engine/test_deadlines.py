"""Deadlines: due times, reminders once, and on_timeout (escalate, reject, approve, notify)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import NotAnApproverError, WorkflowValidationError
from backend.workflows.models import WorkflowEvent
from backend.workflows.selectors import (
    due_at_for_attachments,
    overdue_attachments,
    pending_approvals_by_due_time,
)
from backend.workflows.services import approve_stage, create_workflow
from backend.workflows.services.deadlines import TIMEOUT_REASON, process_deadlines
from tests.support.database_state import attachment_state, database_state, event_types
from tests.support.helpers import approvers_of
from tests.support.workflow_builders import (
    attached_request,
    role_approval,
    two_stage_workflow,
    user_approval,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(moment: datetime):
    """Freeze ``timezone.now()`` (the engine's clock) at ``moment``."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run ``process_deadlines`` and its after-commit work (e-mails, publishing)."""

    def run(now):
        with django_capture_on_commit_callbacks(execute=True):
            return process_deadlines(now=now)

    return run


def started(scenario, approval, **fields):
    with at(T0):
        workflow = two_stage_workflow(scenario, approval)
        return attached_request(scenario, workflow, **fields)


def test_an_opened_step_gets_its_due_time(acme):
    # given / when
    request, attachment = started(
        acme, user_approval(acme.user("employee"), due_in="P2D", remind_before="4h")
    )

    # then
    assert due_at_for_attachments([attachment]) == {attachment.pk: T0 + timedelta(days=2)}
    assert list(overdue_attachments(acme.company.pk, now=T0 + timedelta(days=2))) == [attachment]
    assert list(overdue_attachments(acme.company.pk, now=T0 + timedelta(hours=47))) == []


def test_a_step_without_deadline_has_no_due_time(acme):
    request, attachment = started(acme, user_approval(acme.user("employee")))
    assert due_at_for_attachments([attachment]) == {attachment.pk: None}


def test_the_reminder_is_sent_exactly_once(acme, settings, sweep):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    request, attachment = started(
        acme, user_approval(acme.user("employee"), due_in="48h", remind_before="PT4H")
    )

    # before the reminder window: nothing
    run = sweep(now=T0 + timedelta(hours=43, minutes=59))
    assert (run.reminded_steps, len(mail.outbox)) == (0, 0)

    # in the window: one reminder, one e-mail; the next runs send nothing
    for _ in range(3):
        sweep(now=T0 + timedelta(hours=44))
    sweep(now=T0 + timedelta(hours=45))
    reminded = WorkflowEvent.objects.filter(attachment=attachment, event_type=EventType.REMINDED)
    assert [(e.actor_id, e.details["reminded"]) for e in reminded] == [
        (None, [acme.user("employee").pk])
    ]
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (
            ["employee@acme.example"],
            "Reminder: Purchase Request: Laptops - $12500.00 – Step is due 2026-03-04T09:00:00+00:00",
        )
    ]
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "Step")


def test_escalation_hands_the_step_over_exactly_once(acme, settings, sweep):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    request, attachment = started(
        acme,
        user_approval(
            acme.user("employee"),
            due_in="2d",
            on_timeout={"action": "escalate", "user": acme.user("cfo").pk},
        ),
    )

    # not yet due
    assert sweep(now=T0 + timedelta(days=2) - timedelta(seconds=1)).timed_out == 0
    assert approvers_of(attachment) == ["acme-employee"]

    # due: the CFO holds the step; later runs change nothing
    run = sweep(now=T0 + timedelta(days=2))
    assert (run.escalated, run.timed_out) == (1, 1)
    state = database_state()
    assert sweep(now=T0 + timedelta(days=5)).timed_out == 0
    assert database_state() == state
    assert approvers_of(attachment) == ["acme-cfo"]
    event = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (event.event_type, event.actor_id, event.delegate, event.reason) == (
        EventType.ESCALATED,
        None,
        acme.user("cfo"),
        TIMEOUT_REASON,
    )
    assert event.details["approvers_before"] == [acme.user("employee").pk]
    assert event.details["approvers_after"] == [acme.user("cfo").pk]
    assert [m.to for m in mail.outbox] == [["cfo@acme.example"]]

    # the previous holder lost the step; the new one decides it
    with pytest.raises(NotAnApproverError):
        approve_stage(obj=request, user=acme.user("employee"))
    approve_stage(obj=request, user=acme.user("cfo"))
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")


def test_escalation_to_a_role_gives_the_step_to_its_members(acme):
    request, attachment = started(
        acme,
        user_approval(
            acme.user("employee"),
            due_in="1h",
            on_timeout={"action": "escalate", "role": acme.roles["Executive"].pk},
        ),
    )
    process_deadlines(now=T0 + timedelta(hours=1))
    assert approvers_of(attachment) == ["acme-executive1", "acme-executive2"]
    approve_stage(obj=request, user=acme.user("executive2"))
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")


def test_timeout_reject_rejects_the_workflow(acme):
    request, attachment = started(
        acme, role_approval(acme.roles["Budget Manager"], due_in="1h", on_timeout="reject")
    )
    run = process_deadlines(now=T0 + timedelta(hours=2))
    assert run.rejected == 1
    assert attachment_state(attachment) == (AttachmentStatus.REJECTED, "Main", "Step")
    assert event_types(attachment)[-2:] == [EventType.TIMED_OUT, EventType.REJECTED]
    rejected = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (rejected.actor_id, rejected.reason) == (None, TIMEOUT_REASON)


def test_timeout_approve_moves_the_workflow_on(acme):
    request, attachment = started(
        acme, user_approval(acme.user("employee"), due_in="1h", on_timeout="approve")
    )
    run = process_deadlines(now=T0 + timedelta(hours=1))
    assert run.approved == 1
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")
    assert event_types(attachment)[-3:] == [
        EventType.TIMED_OUT,
        EventType.APPROVED,
        EventType.STAGE_MOVED,
    ]
    assert approvers_of(attachment) == ["acme-cfo"]


def test_timeout_notify_keeps_the_holders_and_notifies_once(acme, settings, sweep):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    request, attachment = started(acme, user_approval(acme.user("employee"), due_in="1h"))
    assert sweep(now=T0 + timedelta(hours=1)).notified == 1
    assert sweep(now=T0 + timedelta(hours=3)).notified == 0
    assert approvers_of(attachment) == ["acme-employee"]
    assert event_types(attachment)[-1] == EventType.TIMED_OUT
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["employee@acme.example"], "Overdue: Purchase Request: Laptops - $12500.00 – Step")
    ]
    # still overdue, and the holder may still decide
    assert list(overdue_attachments(acme.company.pk, now=T0 + timedelta(hours=3))) == [attachment]
    approve_stage(obj=request, user=acme.user("employee"))
    assert attachment_state(attachment)[2] == "After"


def test_an_approval_that_lands_first_wins_over_the_timeout(acme):
    request, attachment = started(
        acme, user_approval(acme.user("employee"), due_in="1h", on_timeout="reject")
    )
    with at(T0 + timedelta(minutes=59)):
        approve_stage(obj=request, user=acme.user("employee"))
    run = process_deadlines(now=T0 + timedelta(hours=1))
    assert run.timed_out == 0
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")
    assert EventType.TIMED_OUT not in event_types(attachment)


def test_a_timeout_that_lands_first_wins_over_the_approval(acme):
    request, attachment = started(
        acme, user_approval(acme.user("employee"), due_in="1h", on_timeout="reject")
    )
    process_deadlines(now=T0 + timedelta(hours=1))
    before = database_state()
    with pytest.raises(Exception) as raised:
        approve_stage(obj=request, user=acme.user("employee"))
    assert (raised.value.code, raised.value.message) == (
        ErrorCode.INVALID_STATE,
        "The workflow is rejected; this action is not possible now.",
    )
    assert database_state() == before


def test_the_next_stage_gets_its_own_deadline_when_it_opens(acme):
    with at(T0):
        workflow = create_workflow(
            company=acme.company,
            name_en="Deadlines",
            created_by=acme.company,
            pipelines=[
                {
                    "name_en": "Main",
                    "stages": [
                        {"name_en": "One", "approvals": [user_approval(acme.user("employee"))]},
                        {
                            "name_en": "Two",
                            "approvals": [user_approval(acme.user("cfo"), due_in="P1D")],
                        },
                    ],
                }
            ],
        )
        request, attachment = attached_request(acme, workflow)
    assert due_at_for_attachments([attachment]) == {attachment.pk: None}
    opened = T0 + timedelta(days=10)
    with at(opened):
        approve_stage(obj=request, user=acme.user("employee"))
    assert due_at_for_attachments([attachment]) == {attachment.pk: opened + timedelta(days=1)}
    assert [a.pk for a in pending_approvals_by_due_time(acme.user("cfo"))] == [attachment.pk]


def test_the_management_command_runs_the_sweep(acme):
    request, attachment = started(
        acme, user_approval(acme.user("employee"), due_in="1h", on_timeout="reject")
    )
    from io import StringIO

    out = StringIO()
    with at(T0 + timedelta(hours=2)):
        call_command("process_deadlines", stdout=out)
    assert out.getvalue() == (
        "reminded steps: 0, escalated: 0, rejected: 1, approved: 0, notified: 0, busy: 0, "
        "failed: 0\n"
    )
    assert attachment_state(attachment)[0] == AttachmentStatus.REJECTED


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        (
            {"due_in": "soon"},
            "approvals[0].dueIn",
            "approvals[0].dueIn must be an ISO 8601 duration such as P2D or PT4H, or like 48h, 30m, 2d.",
        ),
        (
            {"due_in": "P0D"},
            "approvals[0].dueIn",
            "approvals[0].dueIn must be longer than zero and at most 366 days.",
        ),
        ({"remind_before": "1h"}, "approvals[0].remindBefore", "remind_before needs due_in."),
        (
            {"due_in": "1h", "remind_before": "2h"},
            "approvals[0].remindBefore",
            "remind_before must be shorter than due_in.",
        ),
        (
            {"due_in": "1h", "on_timeout": "explode"},
            "approvals[0].onTimeout",
            "on_timeout must be one of escalate, reject, approve, notify.",
        ),
        (
            {"due_in": "1h", "on_timeout": "escalate"},
            "approvals[0].onTimeout",
            "An escalation names exactly one user or one role.",
        ),
        (
            {"due_in": "1h", "on_timeout": {"action": "reject", "user": 1}},
            "approvals[0].onTimeout",
            "on_timeout reject takes no user or role.",
        ),
    ],
)
def test_invalid_deadlines_are_refused(acme, extra, field, message):
    from backend.workflows.approval_config import validate_approvals

    with pytest.raises(WorkflowValidationError) as raised:
        validate_approvals(
            [user_approval(acme.user("employee"), **extra)], company_id=acme.company.pk
        )
    assert (raised.value.field, raised.value.message) == (field, message)


def test_escalation_to_another_company_user_is_refused(acme, globex):
    from backend.workflows.approval_config import validate_approvals

    stranger = globex.user("cfo")
    with pytest.raises(WorkflowValidationError) as raised:
        validate_approvals(
            [
                user_approval(
                    acme.user("employee"),
                    due_in="1h",
                    on_timeout={"action": "escalate", "user": stranger.pk},
                )
            ],
            company_id=acme.company.pk,
        )
    assert (raised.value.field, raised.value.message) == (
        "approvals[0].onTimeout.user",
        f"User {stranger.pk} does not belong to this company.",
    )


def test_deadlines_are_stored_normalised(acme):
    from backend.workflows.approval_config import validate_approvals

    [approval] = validate_approvals(
        [
            user_approval(
                acme.user("employee"), due_in="48h", remind_before="30m", on_timeout="APPROVE"
            )
        ],
        company_id=acme.company.pk,
    )
    assert (approval["due_in"], approval["remind_before"], approval["on_timeout"]) == (
        "P2DT00H00M00S",
        "P0DT00H30M00S",
        {"action": "approve"},
    )
    assert timezone.is_aware(T0)


def _list_queries(scenario, count):
    with at(T0):
        workflow = two_stage_workflow(
            scenario, user_approval(scenario.user("employee"), due_in="1h")
        )
        for _ in range(count):
            attached_request(scenario, workflow)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.workflows.selectors import company_attachments, filter_overdue, with_due_at

    with CaptureQueriesContext(connection) as context:
        rows = [
            (a.pk, a.due_at)
            for a in with_due_at(
                filter_overdue(
                    company_attachments(scenario.company.pk),
                    overdue=True,
                    now=T0 + timedelta(hours=2),
                )
            )
        ]
        inbox = list(pending_approvals_by_due_time(scenario.user("employee")))
    return len(context.captured_queries), rows, inbox


def test_due_time_lists_cost_the_same_queries_for_1_and_30_attachments(acme, globex):
    one, rows_one, _ = _list_queries(globex, 1)
    many, rows_many, inbox = _list_queries(acme, 30)
    # the attachments with due_at, the user's company, the inbox: one query each
    assert (one, many) == (3, 3)
    assert len(rows_many) == 30
    assert {due for _, due in rows_many} == {T0 + timedelta(hours=1)}
    assert [a.due_at for a in inbox] == [T0 + timedelta(hours=1)] * 30


def test_the_inbox_sorts_by_due_time_and_filters_overdue(acme):
    with at(T0):
        late = attached_request(
            acme, two_stage_workflow(acme, user_approval(acme.user("employee"), due_in="P3D"))
        )[1]
        none = attached_request(
            acme, two_stage_workflow(acme, user_approval(acme.user("employee")))
        )[1]
        soon = attached_request(
            acme, two_stage_workflow(acme, user_approval(acme.user("employee"), due_in="1h"))
        )[1]
    from backend.workflows.selectors import company_attachments, filter_overdue, is_overdue

    inbox = list(pending_approvals_by_due_time(acme.user("employee")))
    assert [a.pk for a in inbox] == [soon.pk, late.pk, none.pk]
    later = T0 + timedelta(hours=2)
    assert [is_overdue(a.due_at, now=later) for a in inbox] == [True, False, False]
    not_overdue = filter_overdue(company_attachments(acme.company.pk), overdue=False, now=later)
    assert sorted(a.pk for a in not_overdue) == sorted([late.pk, none.pk])


def test_the_starter_never_gets_an_escalated_step(acme):
    # the requester (who started the workflows below) joins the Executive role
    acme.user("requester").groups.add(acme.roles["Executive"])
    _, to_role = started(
        acme,
        user_approval(
            acme.user("employee"),
            due_in="1h",
            on_timeout={"action": "escalate", "role": acme.roles["Executive"].pk},
        ),
    )
    _, to_starter = started(
        acme,
        user_approval(
            acme.user("employee"),
            due_in="1h",
            on_timeout={"action": "escalate", "user": acme.user("requester").pk},
        ),
    )

    run = process_deadlines(now=T0 + timedelta(hours=1))

    assert (run.escalated, run.notified) == (1, 1)
    assert approvers_of(to_role) == ["acme-executive1", "acme-executive2"]
    assert approvers_of(to_starter) == ["acme-employee"]
    timed_out = WorkflowEvent.objects.filter(attachment=to_starter).last()
    assert (timed_out.event_type, timed_out.details["escalation_failed"]) == (
        EventType.TIMED_OUT,
        "The escalation user started the workflow and cannot approve it.",
    )


def test_deadline_events_are_published_after_commit_and_tell_both_inboxes(acme, sweep):
    from backend.workflows import broadcast

    _, attachment = started(
        acme,
        user_approval(
            acme.user("employee"),
            due_in="1h",
            remind_before="30m",
            on_timeout={"action": "escalate", "user": acme.user("cfo").pk},
        ),
    )
    published = broadcast.statistics.published

    sweep(now=T0 + timedelta(hours=1))

    # one publish per committed batch: the reminders, then the escalation
    assert broadcast.statistics.published == published + 2
    reminded, escalated = WorkflowEvent.objects.filter(attachment=attachment).order_by("id")[
        2:
    ]  # after ATTACHED and STARTED
    groups = [group for group, _ in broadcast._messages([reminded, escalated])]
    assert broadcast.attachment_group(attachment.pk) in groups
    inbox = {
        message["user_id"]: message["change"]
        for group, message in broadcast._messages([escalated])
        if message["type"] == broadcast.INBOX_MESSAGE_TYPE
    }
    assert inbox == {acme.user("employee").pk: "left", acme.user("cfo").pk: "entered"}
