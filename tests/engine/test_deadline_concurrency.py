"""process_deadlines against itself and against decisions, with real threads and transactions.

On PostgreSQL the sweeps claim rows with ``SKIP LOCKED`` and skip attachments a decision holds;
on SQLite every transaction takes the write lock as it begins, so they simply take turns.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection, transaction

from backend.demo.scenario import build_company, register_demo_models
from backend.workflows.constants import AttachmentStatus, EventType
from backend.workflows.models import WorkflowEvent
from backend.workflows.services import approve_stage
from backend.workflows.services.deadlines import process_deadlines
from tests.engine.test_concurrency import run_at_once
from tests.support.database_state import attachment_state
from tests.support.helpers import approvers_of
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
DUE = T0 + timedelta(days=1)


def escalating(scenario, count):
    with mock.patch("django.utils.timezone.now", return_value=T0):
        workflow = two_stage_workflow(
            scenario,
            user_approval(
                scenario.user("employee"),
                due_in="P1D",
                remind_before="PT2H",
                on_timeout={"action": "escalate", "user": scenario.user("budget_manager1").pk},
            ),
        )
        return [attached_request(scenario, workflow) for _ in range(count)]


def test_two_sweeps_at_once_remind_and_escalate_each_step_exactly_once():
    # given: 20 steps past their reminder time and their due time
    register_demo_models()
    scenario = build_company("sweep", display_name="Sweep")
    requests = escalating(scenario, 20)

    # when: two sweeps run at the same moment, each in its own thread and connection
    runs = run_at_once([lambda: process_deadlines(now=DUE, batch_size=3)] * 2)

    # then: every step was reminded once and escalated once, by one sweep or the other
    assert not [run for run in runs if isinstance(run, Exception)], runs
    assert sum(run.reminded_steps for run in runs) == 20
    assert sum(run.escalated for run in runs) == 20
    for _, attachment in requests:
        kinds = list(
            WorkflowEvent.objects.filter(attachment=attachment)
            .order_by("id")
            .values_list("event_type", flat=True)
        )
        assert kinds == [
            EventType.ATTACHED,
            EventType.STARTED,
            EventType.REMINDED,
            EventType.ESCALATED,
        ]
        assert approvers_of(attachment) == ["sweep-budget_manager1"]
    # and a third sweep finds nothing left to do
    third = process_deadlines(now=DUE + timedelta(hours=1))
    assert (third.reminded_steps, third.timed_out) == (0, 0)


def test_an_approval_holding_the_lock_wins_over_the_sweep():
    # given
    register_demo_models()
    scenario = build_company("hold", display_name="Hold")
    [(request, attachment)] = escalating(scenario, 1)
    approving = threading.Event()

    def approve_and_hold_the_lock() -> None:
        try:
            with transaction.atomic():
                approve_stage(obj=request, user=scenario.user("employee"))
                approving.set()
                time.sleep(1.0)  # the sweep runs meanwhile
        finally:
            connection.close()

    decision = threading.Thread(target=approve_and_hold_the_lock)
    decision.start()
    assert approving.wait(timeout=30)

    # when: the sweep runs while the decision holds the attachment
    run = process_deadlines(now=DUE)
    decision.join(timeout=60)

    # then: the approval stands and nothing escalated
    if connection.vendor == "postgresql":
        assert (run.busy, run.escalated) == (1, 0)  # skipped the locked attachment
    else:
        assert run.escalated == 0  # waited for the decision, then found the step decided
    assert process_deadlines(now=DUE).timed_out == 0
    assert attachment_state(attachment) == (AttachmentStatus.IN_PROGRESS, "Main", "After")
    assert approvers_of(attachment) == ["hold-cfo"]
    assert not WorkflowEvent.objects.filter(
        attachment=attachment, event_type=EventType.ESCALATED
    ).exists()
