"""Concurrent decisions on one workflow, with real threads and real transactions.

Each thread has its own database connection. On PostgreSQL the attachment row lock
serialises the decisions; on SQLite every transaction takes the write lock when it begins.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from backend.demo.models import PurchaseRequest
from backend.demo.scenario import build_company, register_demo_models
from backend.workflows.constants import AttachmentStatus, EventType
from backend.workflows.exceptions import ConflictError, InvalidStateError, NotAnApproverError
from backend.workflows.models import Stage, Workflow, WorkflowAttachment, WorkflowEvent
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    create_workflow,
    delegate_stage,
    get_workflow_attachment,
    reject_stage,
    request_resubmission,
)
from tests.support.database_state import approval_rows, attachment_state, event_types
from tests.support.helpers import make_purchase_request
from tests.support.purchase_steps import FORM_DATA, start_purchase_request

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6
LOST_RACE = (
    "This step has already been decided or is no longer waiting for you; "
    "reload the workflow and try again."
)


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


def events_since(
    attachment: WorkflowAttachment, count: int
) -> list[tuple[str, str, str | None, str | None]]:
    """Return ``(type, actor, from stage, to stage)`` of the attachment's events after the first ``count``."""
    events = (
        WorkflowEvent.objects.filter(attachment=attachment)
        .select_related("actor", "from_stage", "to_stage")
        .order_by("id")[count:]
    )
    return [
        (
            event.event_type,
            event.actor.username,
            event.from_stage.name_en if event.from_stage else None,
            event.to_stage.name_en if event.to_stage else None,
        )
        for event in events
    ]


def approve_as(
    username: str,
    request_pk: int,
    form_data: dict[str, Any] | None,
    expected_stage: int | None = None,
) -> Callable[[], Any]:
    def call() -> Any:
        # Fresh objects per thread: nothing is shared between connections.
        user = get_user_model().objects.get(username=username)
        request = PurchaseRequest.objects.get(pk=request_pk)
        return approve_stage(
            obj=request, user=user, form_data=form_data, expected_stage=expected_stage
        )

    return call


def current_stage_id(attachment: WorkflowAttachment) -> int | None:
    """Return the attachment's current stage as stored (what a client's page shows)."""
    return WorkflowAttachment.objects.values_list("current_stage_id", flat=True).get(
        pk=attachment.pk
    )


def test_concurrent_approvals_of_an_anyone_step_advance_it_exactly_once():
    # given: Budget Approval (role, anyone) with four budget managers
    register_demo_models()
    scenario = build_company("race", display_name="Race", budget_managers=4)
    request, attachment = start_purchase_request(scenario, at_stage="Budget Approval")
    events_before = WorkflowEvent.objects.filter(attachment=attachment).count()
    # four different members plus two of them submitting twice
    usernames = [f"race-budget_manager{n}" for n in (1, 2, 3, 4, 1, 2)]
    assert len(usernames) == THREADS

    # when: every click names the step its page showed
    seen = current_stage_id(attachment)
    results = run_at_once(
        [approve_as(name, request.pk, FORM_DATA["Budget Approval"], seen) for name in usernames]
    )

    # then: exactly one decision went through; the others lost the race cleanly
    winners = [i for i, result in enumerate(results) if isinstance(result, WorkflowAttachment)]
    assert len(winners) == 1, results
    losers = [result for i, result in enumerate(results) if i != winners[0]]
    assert [(type(error), error.message) for error in losers] == [(ConflictError, LOST_RACE)] * (
        THREADS - 1
    ), losers
    winner = usernames[winners[0]]

    # the attachment moved exactly one stage
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Final Finance Sign-off",
    )
    assert events_since(attachment, events_before) == [
        (EventType.APPROVED, winner, "Budget Approval", None),
        (EventType.STAGE_MOVED, winner, "Budget Approval", "Final Finance Sign-off"),
    ]
    # one approved row for Budget Approval, one current row for the CFO, nothing else open
    assert approval_rows(attachment) == [
        (1, "approved", "race-finance_reviewer1", "Initial Review"),
        (2, "approved", winner, "Budget Approval"),
        (3, "current", "race-cfo", "Final Finance Sign-off"),
    ]


def wait_until_a_transaction_waits_for_a_lock() -> None:
    """Return once another connection is blocked (PostgreSQL: a lock not granted yet)."""
    if connection.vendor != "postgresql":
        time.sleep(1)  # SQLite: the other transaction is waiting in BEGIN IMMEDIATE
        return
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("no transaction started waiting for the lock")


def test_a_decision_whose_step_changed_while_it_waited_for_the_lock_is_a_conflict():
    # given: the CFO approves while a budget manager's approval, which opens the CFO's stage,
    # still holds the attachment lock
    register_demo_models()
    scenario = build_company("queue", display_name="Queue")
    request, attachment = start_purchase_request(scenario, at_stage="Budget Approval")
    events_before = WorkflowEvent.objects.filter(attachment=attachment).count()
    results: list[Any] = []

    def cfo_approves() -> None:
        try:
            results.append(
                approve_as("queue-cfo", request.pk, FORM_DATA["Final Finance Sign-off"])()
            )
        except Exception as error:  # asserted on below
            results.append(error)
        finally:
            connection.close()

    cfo = threading.Thread(target=cfo_approves)
    with transaction.atomic():
        approve_stage(
            obj=request,
            user=scenario.user("budget_manager1"),
            form_data=FORM_DATA["Budget Approval"],
        )
        cfo.start()
        wait_until_a_transaction_waits_for_a_lock()
    cfo.join(timeout=60)

    # then: the CFO's request began while Budget Approval was current (read before the lock);
    # once the lock was released the step had changed, so nothing was decided for the CFO
    assert [(type(result), result.message) for result in results] == [(ConflictError, LOST_RACE)]
    assert events_since(attachment, events_before) == [
        (EventType.APPROVED, "queue-budget_manager1", "Budget Approval", None),
        (
            EventType.STAGE_MOVED,
            "queue-budget_manager1",
            "Budget Approval",
            "Final Finance Sign-off",
        ),
    ]
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Final Finance Sign-off",
    )


def decide_as(
    decision: str, username: str, request_pk: int, expected_stage: int | None = None
) -> Callable[[], Any]:
    """Return a call making one of the four decisions on the CFO's stage, with fresh objects."""

    def call() -> Any:
        User = get_user_model()
        user = User.objects.get(username=username)
        request = PurchaseRequest.objects.get(pk=request_pk)
        bound = {"expected_stage": expected_stage}
        if decision == "approve":
            return approve_stage(
                obj=request, user=user, form_data=FORM_DATA["Final Finance Sign-off"], **bound
            )
        if decision == "reject":
            return reject_stage(obj=request, user=user, reason="No", **bound)
        if decision == "delegate":
            employee = User.objects.get(username=username.replace("cfo", "employee"))
            return delegate_stage(obj=request, user=user, to_user=employee, **bound)
        attachment = get_workflow_attachment(request)
        first_stage = Stage.objects.filter(pipeline__workflow_id=attachment.workflow_id).get(
            name_en="Initial Review"
        )
        return request_resubmission(
            obj=request, user=user, stage=first_stage, reason="Redo", **bound
        )

    return call


# What the CFO's second decision meets once the first one has committed.
AFTER_FIRST_DECISION = {
    "approve": (ConflictError, AttachmentStatus.IN_PROGRESS, "Executive Approval"),
    "reject": (InvalidStateError, AttachmentStatus.REJECTED, "Final Finance Sign-off"),
    # the CFO handed the step on: no longer one of its approvers
    "delegate": (NotAnApproverError, AttachmentStatus.IN_PROGRESS, "Final Finance Sign-off"),
    "resubmit": (ConflictError, AttachmentStatus.IN_PROGRESS, "Initial Review"),
}


FIRST_DECISION_EVENTS = {
    "approve": [EventType.APPROVED, EventType.PIPELINE_MOVED, EventType.STAGE_MOVED],
    "reject": [EventType.REJECTED],
    "delegate": [EventType.DELEGATED],
    "resubmit": [EventType.RESUBMISSION_REQUESTED],
}


@pytest.mark.parametrize("first", list(AFTER_FIRST_DECISION))
def test_a_second_decision_waiting_for_the_lock_fails_cleanly(first):
    # given: the CFO's first decision holds the lock while a second approval waits for it
    register_demo_models()
    scenario = build_company("twice", display_name="Twice")
    request, attachment = start_purchase_request(scenario, at_stage="Final Finance Sign-off")
    results: list[Any] = []

    def second_approval() -> None:
        try:
            results.append(decide_as("approve", "twice-cfo", request.pk)())
        except Exception as error:  # asserted on below
            results.append(error)
        finally:
            connection.close()

    waiter = threading.Thread(target=second_approval)
    with transaction.atomic():
        decide_as(first, "twice-cfo", request.pk)()
        waiter.start()
        wait_until_a_transaction_waits_for_a_lock()
    waiter.join(timeout=60)

    # then
    error_class, status, stage = AFTER_FIRST_DECISION[first]
    assert [type(result) for result in results] == [error_class], results
    assert attachment_state(attachment)[::2] == (status, stage)
    # only the first decision is recorded
    assert event_types(attachment)[6:] == FIRST_DECISION_EVENTS[first]


def test_concurrent_different_decisions_by_one_user_let_exactly_one_through():
    # given
    register_demo_models()
    scenario = build_company("mixed", display_name="Mixed")
    request, attachment = start_purchase_request(scenario, at_stage="Final Finance Sign-off")
    events_before = WorkflowEvent.objects.filter(attachment=attachment).count()
    decisions = ["approve", "reject", "delegate", "resubmit", "approve", "reject"]
    assert len(decisions) == THREADS

    # when: the CFO's six clicks, from one page, arrive together
    seen = current_stage_id(attachment)
    results = run_at_once(
        [decide_as(decision, "mixed-cfo", request.pk, seen) for decision in decisions]
    )

    # then: one decision went through; the state and the audit trail are the winner's
    winners = [i for i, result in enumerate(results) if isinstance(result, WorkflowAttachment)]
    assert len(winners) == 1, results
    winner = decisions[winners[0]]
    error_class, status, stage = AFTER_FIRST_DECISION[winner]
    losers = [result for i, result in enumerate(results) if i != winners[0]]
    assert [type(error) for error in losers] == [error_class] * (THREADS - 1), losers
    assert attachment_state(attachment)[::2] == (status, stage)
    assert [event[0] for event in events_since(attachment, events_before)] == FIRST_DECISION_EVENTS[
        winner
    ]
    open_rows = [row for row in approval_rows(attachment) if row[1] == "current"]
    assert len(open_rows) == {"approve": 2, "reject": 0, "delegate": 1, "resubmit": 1}[winner]


def test_concurrent_consensus_approvals_all_count_and_complete_the_workflow_once():
    # given: Executive Approval (role, consensus) with six executives
    register_demo_models()
    scenario = build_company("quorate", display_name="Quorate", executives=THREADS)
    request, attachment = start_purchase_request(scenario, at_stage="Executive Approval")
    usernames = [f"quorate-executive{n}" for n in range(1, THREADS + 1)]

    events_before = WorkflowEvent.objects.filter(attachment=attachment).count()

    # when: every executive approves at the same moment
    results = run_at_once([approve_as(name, request.pk, None) for name in usernames])

    # then: every share counted, and the workflow completed exactly once
    assert all(isinstance(result, WorkflowAttachment) for result in results), results
    assert attachment_state(attachment) == (AttachmentStatus.COMPLETED, None, None)
    events = events_since(attachment, events_before)
    assert [event[0] for event in events] == [EventType.APPROVED] * THREADS + [EventType.COMPLETED]
    assert sorted(event[1] for event in events[:THREADS]) == usernames
    # every event names the stage it was decided in, whichever thread waited for the lock
    assert {event[2:] for event in events} == {("Executive Approval", None)}
    assert Counter(event_types(attachment))[EventType.COMPLETED] == 1
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
    assert event_types(attachment) == [EventType.ATTACHED, EventType.STARTED]
    assert approval_rows(attachment)[0][1:] == (
        "current",
        "twin-finance_reviewer1",
        "Initial Review",
    )
    assert len(approval_rows(attachment)) == 1


# --------------------------------------------------------------------------- bursts, round after round

CROWD = 20
ROUNDS = 20
COMPLETED_MESSAGE = "The workflow is completed; this action is not possible now."
REJECTED_MESSAGE = "The workflow is rejected; this action is not possible now."


class Crowd:
    """``size`` worker threads kept for many bursts; each burst releases them together.

    Every call runs on the worker's own connection, closed after the call (with PostgreSQL's
    connection pool, fewer connections than workers are enough: late workers wait for one).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._start = threading.Barrier(size + 1)
        self._done = threading.Barrier(size + 1)
        self._calls: list[Callable[[], Any]] = []
        self._results: list[Any] = []
        self._closing = False
        self._threads = [
            threading.Thread(target=self._work, args=(index,), daemon=True) for index in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self, index: int) -> None:
        while True:
            self._start.wait(timeout=60)
            if self._closing:
                return
            try:
                self._results[index] = self._calls[index]()
            except Exception as error:  # collected and asserted on by the test
                self._results[index] = error
            finally:
                connection.close()
            self._done.wait(timeout=120)

    def run(self, calls: list[Callable[[], Any]]) -> list[Any]:
        """Run ``calls`` (one per worker) at once; return their results or errors."""
        assert len(calls) == self.size
        self._calls, self._results = calls, [None] * self.size
        self._start.wait(timeout=60)
        self._done.wait(timeout=120)
        return list(self._results)

    def __enter__(self) -> Crowd:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._closing = True
        self._start.wait(timeout=60)
        for thread in self._threads:
            thread.join(timeout=60)


def same_role_workflow(scenario: Any, *, stages: int = 3) -> Workflow:
    """Return a template of ``stages`` consecutive stages, each ``role`` / ``anyone`` on one role."""
    role = {
        "approval_type": "role",
        "user_role": scenario.roles["Budget Manager"].pk,
        "role_selection_strategy": "anyone",
    }
    return create_workflow(
        company=scenario.company,
        name_en="Same role",
        created_by=scenario.company,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [
                    {"name_en": f"Stage {n}", "approvals": [role]} for n in range(1, stages + 1)
                ],
            }
        ],
    )


def decide_on(
    decision: str,
    user_pk: int,
    request_pk: int,
    expected_stage: int | None,
    idempotency_key: str | None = None,
) -> Callable[[], Any]:
    """Return one approve or reject call on a purchase request, with fresh objects."""

    def call() -> Any:
        user = get_user_model().objects.get(pk=user_pk)
        request = PurchaseRequest.objects.get(pk=request_pk)
        if decision == "reject":
            return reject_stage(
                obj=request,
                user=user,
                reason="No",
                expected_stage=expected_stage,
                idempotency_key=idempotency_key,
            )
        return approve_stage(
            obj=request, user=user, expected_stage=expected_stage, idempotency_key=idempotency_key
        )

    return call


class SameRoleRun:
    """A purchase request running the same-role workflow, restarted when it ends."""

    def __init__(self, scenario: Any) -> None:
        self.scenario = scenario
        self.workflow = same_role_workflow(scenario)
        self.request: Any = None
        self.attachment: Any = None

    def live(self) -> tuple[Any, WorkflowAttachment, int | None, int]:
        """Return ``(request, attachment, current stage id, events so far)``, restarting if needed."""
        if self.attachment is None or attachment_state(self.attachment)[0] != "in_progress":
            self.request = make_purchase_request(self.scenario)
            self.attachment = attach_workflow_to_object(
                obj=self.request, workflow=self.workflow, user=self.scenario.user("requester")
            )
        events = WorkflowEvent.objects.filter(attachment=self.attachment).count()
        return self.request, self.attachment, current_stage_id(self.attachment), events


def members(scenario: Any) -> list[Any]:
    return [scenario.user(f"budget_manager{n}") for n in range(1, CROWD + 1)]


def stage_name(stage_id: int | None) -> str:
    return Stage.objects.get(pk=stage_id).name_en


def assert_one_advance(
    attachment: WorkflowAttachment, events_before: int, winner: Any, stage_id: int | None
) -> str:
    """Assert the attachment moved exactly one stage (or completed) for ``winner``; return how."""
    name = stage_name(stage_id)
    events = events_since(attachment, events_before)
    if name == "Stage 3":
        assert events == [
            (EventType.APPROVED, winner.username, name, None),
            (EventType.COMPLETED, winner.username, name, None),
        ]
        return "completed"
    following = f"Stage {int(name[-1]) + 1}"
    assert events == [
        (EventType.APPROVED, winner.username, name, None),
        (EventType.STAGE_MOVED, winner.username, name, following),
    ]
    assert attachment_state(attachment)[2] == following
    return "moved"


def test_a_crowd_of_one_role_advances_consecutive_stages_exactly_once_per_burst():
    # given: three consecutive stages on the Budget Manager role (anyone), 20 members
    register_demo_models()
    scenario = build_company("crowd", display_name="Crowd", budget_managers=CROWD)
    run, people = SameRoleRun(scenario), members(scenario)
    outcomes = Counter()

    with Crowd(CROWD) as crowd:
        for _ in range(ROUNDS):
            request, attachment, stage_id, events_before = run.live()

            # when: every member approves the stage their page shows, at once
            results = crowd.run(
                [decide_on("approve", user.pk, request.pk, stage_id) for user in people]
            )

            # then: one decision; every other member gets a typed error, nothing else moved
            winners = [
                i for i, result in enumerate(results) if isinstance(result, WorkflowAttachment)
            ]
            assert len(winners) == 1, results
            how = assert_one_advance(attachment, events_before, people[winners[0]], stage_id)
            expected_loss = (
                (InvalidStateError, COMPLETED_MESSAGE)
                if how == "completed"
                else (ConflictError, LOST_RACE)
            )
            losers = [r for i, r in enumerate(results) if i != winners[0]]
            assert [(type(r), r.message) for r in losers] == [expected_loss] * (CROWD - 1)
            outcomes[how] += 1

    # every stage position was raced: 20 rounds over runs of three stages
    assert outcomes == {"moved": 14, "completed": 6}


def test_one_user_repeating_one_request_advances_exactly_once_per_burst():
    # given: the same workflow; one member holds every stage (the role's only member)
    register_demo_models()
    scenario = build_company("repeat", display_name="Repeat", budget_managers=1)
    run, user = SameRoleRun(scenario), scenario.user("budget_manager1")
    outcomes = Counter()

    with Crowd(CROWD) as crowd:
        for _ in range(ROUNDS):
            request, attachment, stage_id, events_before = run.live()

            # when: the same request (same page, same step) arrives 20 times at once
            results = crowd.run(
                [decide_on("approve", user.pk, request.pk, stage_id) for _ in range(CROWD)]
            )

            # then: it advanced one stage, never the next ones the same user also holds
            winners = [
                i for i, result in enumerate(results) if isinstance(result, WorkflowAttachment)
            ]
            assert len(winners) == 1, results
            how = assert_one_advance(attachment, events_before, user, stage_id)
            expected_loss = (
                (InvalidStateError, COMPLETED_MESSAGE)
                if how == "completed"
                else (ConflictError, LOST_RACE)
            )
            losers = [r for i, r in enumerate(results) if i != winners[0]]
            assert [(type(r), r.message) for r in losers] == [expected_loss] * (CROWD - 1)
            outcomes[how] += 1

    assert outcomes == {"moved": 14, "completed": 6}


def test_mixed_approvals_and_rejections_decide_the_step_they_were_made_for_once():
    # given: 20 members; half approve, half reject the stage they see
    register_demo_models()
    scenario = build_company("split", display_name="Split", budget_managers=CROWD)
    run, people = SameRoleRun(scenario), members(scenario)
    decisions = ["approve", "reject"] * (CROWD // 2)
    outcomes = Counter()

    with Crowd(CROWD) as crowd:
        for _ in range(ROUNDS):
            request, attachment, stage_id, events_before = run.live()

            # when
            results = crowd.run(
                [
                    decide_on(decision, user.pk, request.pk, stage_id)
                    for decision, user in zip(decisions, people, strict=True)
                ]
            )

            # then: exactly one decision, on the stage it named
            winners = [
                i for i, result in enumerate(results) if isinstance(result, WorkflowAttachment)
            ]
            assert len(winners) == 1, results
            winner, decision = people[winners[0]], decisions[winners[0]]
            losers = [r for i, r in enumerate(results) if i != winners[0]]
            if decision == "reject":
                assert events_since(attachment, events_before) == [
                    (EventType.REJECTED, winner.username, stage_name(stage_id), None)
                ]
                expected_loss = (InvalidStateError, REJECTED_MESSAGE)
                how = "rejected"
            else:
                how = assert_one_advance(attachment, events_before, winner, stage_id)
                expected_loss = (
                    (InvalidStateError, COMPLETED_MESSAGE)
                    if how == "completed"
                    else (ConflictError, LOST_RACE)
                )
            assert [(type(r), r.message) for r in losers] == [expected_loss] * (CROWD - 1)
            outcomes[how] += 1

    assert sum(outcomes.values()) == ROUNDS


def test_concurrent_identical_idempotency_keys_make_one_decision_and_identical_replays():
    # given: one member holds every stage, so a duplicate that slipped through would advance
    # the next stage too
    register_demo_models()
    scenario = build_company("replay", display_name="Replay", budget_managers=1)
    run, user = SameRoleRun(scenario), scenario.user("budget_manager1")

    with Crowd(CROWD) as crowd:
        for round_number in range(ROUNDS):
            request, attachment, stage_id, events_before = run.live()
            key = f"click-{round_number}"

            # when: 20 copies of one request carry the same key (no step named)
            results = crowd.run(
                [decide_on("approve", user.pk, request.pk, None, key) for _ in range(CROWD)]
            )

            # then: no errors, one decision, and 20 identical answers
            assert [type(result) for result in results] == [WorkflowAttachment] * CROWD, results
            assert_one_advance(attachment, events_before, user, stage_id)
            answers = {(r.pk, r.status, r.current_stage_id, r.last_step_number) for r in results}
            stored = WorkflowAttachment.objects.get(pk=attachment.pk)
            assert answers == {
                (stored.pk, stored.status, stored.current_stage_id, stored.last_step_number)
            }
            assert WorkflowEvent.objects.filter(actor=user, idempotency_key=key).count() == 1


def test_one_idempotency_key_on_two_attachments_at_once_decides_one_of_them():
    # given: two requests waiting for the same member
    register_demo_models()
    scenario = build_company("twokeys", display_name="Two keys", budget_managers=1)
    user = scenario.user("budget_manager1")
    first, second = SameRoleRun(scenario), SameRoleRun(scenario)

    with Crowd(2) as crowd:
        for round_number in range(ROUNDS):
            runs = [first.live(), second.live()]
            key = f"shared-{round_number}"

            # when: the same key is sent for both at once
            results = crowd.run(
                [decide_on("approve", user.pk, live[0].pk, None, key) for live in runs]
            )

            # then: one decided, the other answers a typed error naming the key
            decided = [r for r in results if isinstance(r, WorkflowAttachment)]
            refused = [r for r in results if not isinstance(r, WorkflowAttachment)]
            assert len(decided) == 1, results
            assert [(type(r), r.field, r.message) for r in refused] == [
                (
                    ConflictError,
                    "idempotencyKey",
                    "This idempotency key was already used for a decision on another object.",
                )
            ]
            assert WorkflowEvent.objects.filter(idempotency_key=key).count() == 1
