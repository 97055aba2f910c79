"""The after-commit listeners reuse what the transition loaded, and get the same answers.

Each decision of the seed's Purchase Request workflow runs with the listeners replaced by a
recorder. Its committed events are then published twice: as the decision handed them over
(with ``transition_state``) and as fresh rows read from the database (no state), and the
messages must be equal, field for field; so must the e-mails the default actions send.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.core import mail

from backend.workflows import broadcast, events, transition_state
from backend.workflows.actions import run_actions_for_events
from backend.workflows.models import WorkflowEvent
from backend.workflows.selectors import ordered_stages
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    delegate_stage,
    reject_stage,
    request_resubmission,
)
from backend.workflows.services.actions import create_workflow_action
from tests.support.action_handlers import CALLS
from tests.support.helpers import make_purchase_request
from tests.support.purchase_steps import FORM_DATA, current_approvers, start_purchase_request

pytestmark = pytest.mark.django_db


def _attach(acme: Any) -> Callable[[], Any]:
    request = make_purchase_request(acme)
    return lambda: attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )


def _approve(acme: Any) -> Callable[[], Any]:
    request, attachment = start_purchase_request(acme)
    reviewer = current_approvers(attachment)[0]
    return lambda: approve_stage(obj=request, user=reviewer, form_data=FORM_DATA["Initial Review"])


def _reject(acme: Any) -> Callable[[], Any]:
    request, _ = start_purchase_request(acme, at_stage="Budget Approval")
    return lambda: reject_stage(obj=request, user=acme.user("budget_manager1"), reason="No")


def _delegate(acme: Any) -> Callable[[], Any]:
    request, attachment = start_purchase_request(acme)
    holder = current_approvers(attachment)[0]
    employee = acme.user("employee")
    return lambda: delegate_stage(obj=request, user=holder, to_user=employee.pk, reason="Away")


def _resubmit(acme: Any) -> Callable[[], Any]:
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    first_stage = ordered_stages(attachment.workflow_id)[0]
    return lambda: request_resubmission(
        obj=request, user=acme.user("budget_manager1"), stage=first_stage.pk, reason="Quote"
    )


DECISIONS = {
    "attach": _attach,
    "approve": _approve,
    "reject": _reject,
    "delegate": _delegate,
    "resubmit": _resubmit,
}


def committed_batches(
    django_capture_on_commit_callbacks: Any, decide: Callable[[], Any]
) -> list[Sequence[WorkflowEvent]]:
    """Run ``decide`` with a recorder as the only listener; return what it was handed."""
    handed: list[Sequence[WorkflowEvent]] = []
    original = list(events._listeners)
    events._listeners[:] = [handed.append]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            decide()
    finally:
        events._listeners[:] = original
    return handed


def fresh(batch: Sequence[WorkflowEvent]) -> list[WorkflowEvent]:
    """Return the same events read from the database (no transition state on them)."""
    rows = WorkflowEvent.objects.in_bulk([event.pk for event in batch])
    return [rows[event.pk] for event in batch]


@pytest.mark.parametrize("name", DECISIONS)
def test_the_broadcast_from_the_transition_equals_the_broadcast_read_again(
    acme, django_capture_on_commit_callbacks, name
):
    # given: a decision whose committed events the listeners were handed
    batches = committed_batches(django_capture_on_commit_callbacks, DECISIONS[name](acme))
    assert batches
    for batch in batches:
        assert transition_state.for_events(batch) is not None, "the decision handed its rows"
        reread = fresh(batch)
        assert transition_state.for_events(reread) is None

        # when
        reused_messages = broadcast._messages(batch)
        read_messages = broadcast._messages(reread)

        # then
        assert reused_messages == read_messages
        assert reused_messages, "something was published"


@pytest.mark.parametrize("name", ["approve", "reject", "delegate", "resubmit"])
def test_the_emails_from_the_transition_equal_the_emails_read_again(
    acme, django_capture_on_commit_callbacks, name
):
    batches = committed_batches(django_capture_on_commit_callbacks, DECISIONS[name](acme))
    mail.outbox.clear()
    for batch in batches:
        broadcast._messages(batch)  # the broadcast runs first and shares the open steps
        run_actions_for_events(batch)
    reused = [(m.to, m.subject, m.body) for m in mail.outbox]
    mail.outbox.clear()
    for batch in batches:
        run_actions_for_events(fresh(batch))
    read = [(m.to, m.subject, m.body) for m in mail.outbox]
    assert reused == read
    assert reused, "the default e-mail action sent something"


def test_events_the_transition_did_not_save_read_everything_again(
    acme, django_capture_on_commit_callbacks
):
    # given: the events a decision handed over, and another event of the same attachment
    (batch,) = committed_batches(django_capture_on_commit_callbacks, _reject(acme))
    other = copy.copy(batch[0])

    # then: only the very instances the transition saved carry its state
    assert transition_state.for_events(batch) is not None
    assert transition_state.for_events([other]) is None
    assert transition_state.for_events([*batch, other]) is None
    assert transition_state.for_events([]) is None


@pytest.mark.parametrize("level", ["workflow", "pipeline", "stage"])
def test_a_running_copy_with_stored_actions_reads_and_runs_them(
    acme, django_capture_on_commit_callbacks, level
):
    # given: the template has a stored after_reject action at one level, copied on attach
    budget = next(s for s in ordered_stages(acme.workflow.pk) if s.name_en == "Budget Approval")
    scope = {"workflow": acme.workflow, "pipeline": budget.pipeline, "stage": budget}[level]
    create_workflow_action(
        **{level: scope},
        action_type="after_reject",
        function_path="registered.outside.allow_list",
    )
    CALLS.clear()

    # when
    (batch,) = committed_batches(django_capture_on_commit_callbacks, _reject(acme))
    run_actions_for_events(batch)

    # then: the decision saw the copy's action, and it ran instead of the default e-mail
    state = transition_state.for_events(batch)
    assert state is not None and state.has_action_rows is True
    assert [(name, action_type) for name, action_type, _, _ in CALLS] == [
        ("registered", "after_reject")
    ]


def test_a_running_copy_without_stored_actions_is_known_to_have_none(
    acme, django_capture_on_commit_callbacks
):
    (batch,) = committed_batches(django_capture_on_commit_callbacks, _reject(acme))
    state = transition_state.for_events(batch)
    assert state is not None and state.has_action_rows is False
