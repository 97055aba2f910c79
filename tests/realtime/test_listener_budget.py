"""SQL query budgets of what runs after a decision commits: the event listeners.

``tests/engine/test_query_budget.py`` budgets the decisions themselves; after they commit, the
listeners publish the events to subscribers (with the inboxes that gained or lost an item),
run the stored actions inherited Stage -> Pipeline -> Workflow -> default (the default ones
send e-mails to resolved recipients) and, if enabled, clean up. Here the on-commit callbacks
run (``django_capture_on_commit_callbacks(execute=True)``) and their queries are counted on
their own, beside the decision's. The seed's Purchase Request workflow has no stored actions,
so the default e-mail actions run. Counts are the same on SQLite and PostgreSQL, with the
in-memory and the Redis channel layer; the measured count is noted beside each budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.workflows.selectors import ordered_stages
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    delegate_stage,
    reject_stage,
    request_resubmission,
)
from tests.support.helpers import make_purchase_request
from tests.support.purchase_steps import FORM_DATA, current_approvers, start_purchase_request

pytestmark = pytest.mark.django_db


def listener_queries(
    django_capture_on_commit_callbacks: Any, decide: Callable[[], Any]
) -> tuple[list[str], list[str]]:
    """Run ``decide`` and then its on-commit callbacks; return the SQL of both, apart."""
    with (
        CaptureQueriesContext(connection) as everything,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        CaptureQueriesContext(connection) as decision,
    ):
        decide()
    assert callbacks, "the decision registered no listener"
    statements = [q["sql"] for q in everything.captured_queries]
    split = len(decision.captured_queries)
    return statements[:split], statements[split:]


def within(budget: int, statements: list[str]) -> None:
    assert len(statements) <= budget, f"{len(statements)} > {budget}:\n" + "\n".join(
        f"{i}. {sql}" for i, sql in enumerate(statements, 1)
    )


def within_whole_call(budget: int, decision: list[str], listeners: list[str]) -> None:
    """Hold the decision and its listeners together to ``budget`` (the call a client pays)."""
    assert len(decision) + len(listeners) <= budget, (
        f"{len(decision)} + {len(listeners)} > {budget}:\n"
        + "\n".join(f"{i}. {sql}" for i, sql in enumerate([*decision, *listeners], 1))
    )


def test_listeners_of_attach_and_start(acme, django_capture_on_commit_callbacks):
    start_purchase_request(acme)  # warm the process-wide caches
    request = make_purchase_request(acme)
    mail.outbox.clear()
    decision, listeners = listener_queries(
        django_capture_on_commit_callbacks,
        lambda: attach_workflow_to_object(
            obj=request, workflow=acme.workflow, user=acme.user("requester")
        ),
    )
    within(BUDGETS["attach"], listeners)  # no default e-mail on start
    within_whole_call(WHOLE_CALL["attach"], decision, listeners)


def _approve(acme: Any, request: Any, attachment: Any) -> Any:
    reviewer = current_approvers(attachment)[0]
    return lambda: approve_stage(obj=request, user=reviewer, form_data=FORM_DATA["Initial Review"])


def _reject(acme: Any, request: Any, attachment: Any) -> Any:
    manager = acme.user("budget_manager1")
    return lambda: reject_stage(obj=request, user=manager, reason="Over budget")


def _delegate(acme: Any, request: Any, attachment: Any) -> Any:
    holder, employee = current_approvers(attachment)[0], acme.user("employee")
    return lambda: delegate_stage(obj=request, user=holder, to_user=employee.pk, reason="Away")


def _resubmit(acme: Any, request: Any, attachment: Any) -> Any:
    manager, first_stage = acme.user("budget_manager1"), ordered_stages(attachment.workflow_id)[0]
    return lambda: request_resubmission(
        obj=request, user=manager, stage=first_stage.pk, reason="Add the quote"
    )


DECISIONS = {
    # name: (stage the request waits at, the decision)
    "approve": ("Initial Review", _approve),
    "reject": ("Budget Approval", _reject),
    "delegate": ("Initial Review", _delegate),
    "resubmit": ("Budget Approval", _resubmit),
}


@pytest.mark.parametrize("name", DECISIONS)
def test_listeners_of_a_decision(acme, django_capture_on_commit_callbacks, name):
    at_stage, decision = DECISIONS[name]
    request, attachment = start_purchase_request(acme, at_stage=at_stage)
    decide = decision(acme, request, attachment)
    mail.outbox.clear()
    decision, listeners = listener_queries(django_capture_on_commit_callbacks, decide)
    within(BUDGETS[name], listeners)
    within_whole_call(WHOLE_CALL[name], decision, listeners)
    assert mail.outbox, "the default e-mail action ran"


# The listeners reuse what the transition loaded (backend/workflows/transition_state.py),
# including whether the running copy has stored actions at all (read with the locked row)
# and the stages read for the events' snapshots: left are the previous event's id and the
# open steps after the commit (read once for the inbox and the e-mail recipients); reject
# sends no inbox change for open steps (none are left) and the attach skips the
# previous-event read (a new attachment has none) but reads the copy's stored actions.
# Measured here: attach 2, approve 2, reject 1, delegate 2, resubmission 2 (before: 5, 12,
# 9, 10, 11; reject and delegate read the stages again until the snapshots kept them); a
# request's fresh objects add the e-mail creator's row (bench_engine: +1).
BUDGETS = {"attach": 2, "approve": 2, "reject": 1, "delegate": 2, "resubmit": 2}
# The whole call: the decision (with its transaction's two statements) plus its listeners.
# The ceilings are attach 25, approve 20, reject / delegate / resubmission 15; each
# is held at what it measures here: attach 17, approve 14, reject 12, delegate 13,
# resubmission 14 (before the adapter wrote a stage's rows and plain approvals itself and
# the snapshots' stages were kept: 21, 21, 13, 14, 20).
WHOLE_CALL = {"attach": 17, "approve": 14, "reject": 12, "delegate": 13, "resubmit": 14}
