"""Concurrent decisions on one workflow, with real threads and real transactions.

Each thread has its own database connection. On PostgreSQL the attachment row lock
serialises the decisions; on SQLite every transaction takes the write lock when it begins.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from approval_workflow.models import ApprovalInstance
from django.contrib.auth import get_user_model
from django.db import connection

from backend.demo.models import PurchaseRequest
from backend.demo.scenario import build_company, register_demo_models
from backend.workflows.constants import AttachmentStatus, EventType
from backend.workflows.exceptions import ConflictError, InvalidStateError
from backend.workflows.models import Workflow, WorkflowAttachment, WorkflowEvent
from backend.workflows.services import approve_stage, attach_workflow_to_object
from tests.database_state import approval_rows, attachment_state, event_types
from tests.helpers import make_purchase_request
from tests.purchase_steps import FORM_DATA, start_purchase_request

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


def run_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together by a barrier; return results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = calls[index]()
        except Exception as error:  # collected and asserted on by the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return results


def approve_as(username: str, request_pk: int, form_data: dict[str, Any] | None) -> Callable[[], Any]:
    def call() -> Any:
        # Fresh objects per thread: nothing is shared between connections.
        user = get_user_model().objects.get(username=username)
        request = PurchaseRequest.objects.get(pk=request_pk)
        return approve_stage(obj=request, user=user, form_data=form_data)

    return call


def test_concurrent_approvals_of_an_anyone_step_advance_it_exactly_once():
    # given: Budget Approval (role, anyone) with four budget managers
    register_demo_models()
    scenario = build_company("race", display_name="Race", budget_managers=4)
    request, attachment = start_purchase_request(scenario, at_stage="Budget Approval")
    events_before = WorkflowEvent.objects.filter(attachment=attachment).count()
    # four different members plus two of them submitting twice
    usernames = [f"race-budget_manager{n}" for n in (1, 2, 3, 4, 1, 2)]
    assert len(usernames) == THREADS

    # when
    results = run_at_once(
        [approve_as(name, request.pk, FORM_DATA["Budget Approval"]) for name in usernames]
    )

    # then: exactly one decision went through, the others lost the race cleanly
    winners = [i for i, result in enumerate(results) if isinstance(result, WorkflowAttachment)]
    assert len(winners) == 1, results
    losers = [result for i, result in enumerate(results) if i != winners[0]]
    assert all(type(error) in (ConflictError, InvalidStateError) for error in losers), [type(e).__name__ for e in losers]
    winner = usernames[winners[0]]

    # the attachment moved exactly one stage
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Final Finance Sign-off",
    )
    new_events = WorkflowEvent.objects.filter(attachment=attachment).order_by("id")[events_before:]
    assert [(e.event_type, e.actor.username, e.from_stage.name_en) for e in new_events] == [
        (EventType.APPROVED, winner, "Budget Approval"),
        (EventType.STAGE_MOVED, winner, "Budget Approval"),
    ]
    assert new_events[1].to_stage.name_en == "Final Finance Sign-off"
    # one approved row for Budget Approval, one current row for the CFO, nothing else open
    rows = approval_rows(attachment)
    assert rows[1:] == [
        (2, "approved", winner, "Budget Approval"),
        (3, "current", "race-cfo", "Final Finance Sign-off"),
    ]
    assert rows[0][:2] == (1, "approved")
    assert ApprovalInstance.objects.filter(status__in=("current", "pending")).count() == 1


def test_concurrent_consensus_approvals_all_count_and_complete_the_workflow_once():
    # given: Executive Approval (role, consensus) with six executives
    register_demo_models()
    scenario = build_company("quorate", display_name="Quorate", executives=THREADS)
    request, attachment = start_purchase_request(scenario, at_stage="Executive Approval")
    usernames = [f"quorate-executive{n}" for n in range(1, THREADS + 1)]

    # when: every executive approves at the same moment
    results = run_at_once([approve_as(name, request.pk, None) for name in usernames])

    # then: every share counted, and the workflow completed exactly once
    assert all(isinstance(result, WorkflowAttachment) for result in results), results
    assert attachment_state(attachment) == (AttachmentStatus.COMPLETED, None, None)
    types = event_types(attachment)
    assert types[-(THREADS + 1) :] == [EventType.APPROVED] * THREADS + [EventType.COMPLETED]
    assert Counter(types)[EventType.COMPLETED] == 1
    executive_rows = [row for row in approval_rows(attachment) if row[3] == "Executive Approval"]
    assert sorted(row[2] for row in executive_rows) == usernames
    assert {row[1] for row in executive_rows} == {"approved"}
    request.refresh_from_db()
    assert request.workflow_status == "approved"


def test_concurrent_attach_of_one_object_creates_one_attachment():
    # given
    register_demo_models()
    scenario = build_company("twin", display_name="Twin")
    request = make_purchase_request(scenario)
    templates = Workflow.objects.count()

    def attach() -> Any:
        user = get_user_model().objects.get(username="twin-requester")
        workflow = Workflow.objects.get(pk=scenario.workflow.pk)
        return attach_workflow_to_object(
            obj=PurchaseRequest.objects.get(pk=request.pk), workflow=workflow, user=user
        )

    # when
    results = run_at_once([attach for _ in range(THREADS)])

    # then: one attachment (and one hidden clone); every other call is a conflict
    winners = [result for result in results if isinstance(result, WorkflowAttachment)]
    assert len(winners) == 1, results
    assert [type(r) for r in results if r is not winners[0]] == [ConflictError] * (THREADS - 1)
    attachment = WorkflowAttachment.objects.get()
    assert attachment.pk == winners[0].pk
    assert Workflow.objects.count() == templates + 1
    assert Workflow.objects.filter(is_hidden=True).get().pk == attachment.workflow_id
    assert event_types(attachment) == [EventType.STARTED]
    assert approval_rows(attachment)[0][1:] == ("current", "twin-finance_reviewer1", "Initial Review")
    assert len(approval_rows(attachment)) == 1
