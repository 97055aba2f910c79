"""SQL query budgets of the engine's writes, on the seed's Purchase Request workflow.

Counting inside a ``django_db`` test: the test runs in a transaction, so the one
``transaction.atomic`` each service opens becomes ``SAVEPOINT`` + ``RELEASE SAVEPOINT``
instead of ``BEGIN`` + ``COMMIT``. Every budget below therefore includes exactly two
savepoint statements (asserted), the same number of statements a production call spends on
its transaction; a nested atomic block would add two more and is caught here.
``tests/benchmarks/bench_engine.py`` measures the same operations outside any test
transaction (identical counts on SQLite and PostgreSQL).

Actors are re-read before each measured call, as a request would load ``request.user``, so
the per-request company lookup is counted. Measured counts (SQLite and PostgreSQL) are noted
beside each budget. A stage's approval rows are written by the adapter in one INSERT (with
one read of the role's members), and a plain approval by one UPDATE
(``backend/workflows/approvals.py``); approval_workflow's ``advance_flow`` still records
check-ins, move steps and quorum-type shares. Event listeners run after
commit and are not part of these budgets (on-commit callbacks never run in a test transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test.utils import CaptureQueriesContext

from backend.demo.models import PurchaseRequest
from backend.workflows.constants import AttachmentStatus, EventType
from backend.workflows.exceptions import InvalidStateError
from backend.workflows.models import WorkflowAttachment, WorkflowConfiguration, WorkflowEvent
from backend.workflows.selectors import ordered_stages
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    delegate_stage,
    reject_stage,
    request_resubmission,
)
from tests.support.database_state import attachment_state, database_state
from tests.support.helpers import assert_max_queries, make_purchase_request
from tests.support.purchase_steps import FORM_DATA, current_approvers, start_purchase_request

pytestmark = pytest.mark.django_db

# The service's own transaction, as a savepoint inside the test transaction.
SAVEPOINT_STATEMENTS = 2


@contextmanager
def query_budget(limit: int) -> Iterator[CaptureQueriesContext]:
    """Fail (printing the SQL) above ``limit`` queries; check the two savepoint statements."""
    with assert_max_queries(limit) as captured:
        yield captured
    savepoints = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len(savepoints) == SAVEPOINT_STATEMENTS, savepoints


def fresh(user: Any) -> Any:
    """Return a new instance of ``user``: no per-request cache carried over."""
    return get_user_model().objects.get(pk=user.pk)


def test_attach_and_start_stays_within_17_queries(acme):
    # given: one attach beforehand warms the process-wide ContentType caches, as in a server
    start_purchase_request(acme)
    request = make_purchase_request(acme)
    requester = fresh(acme.user("requester"))

    # when: clone 2 pipelines / 4 stages, open the round-robin first stage (measured: 16; 20 before
    # the adapter wrote the rows itself)
    with query_budget(17):
        attachment = attach_workflow_to_object(obj=request, workflow=acme.workflow, user=requester)

    # then
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )


def test_approval_that_moves_the_stage_stays_within_13_queries(acme):
    # given: Initial Review (role, round robin); the next stage is a role step (anyone)
    request, attachment = start_purchase_request(acme)
    reviewer = fresh(current_approvers(attachment)[0])

    # when (measured: 12; 19 before the adapter wrote the rows itself)
    with query_budget(13):
        approve_stage(obj=request, user=reviewer, form_data=FORM_DATA["Initial Review"])

    # then
    assert attachment_state(attachment)[2] == "Budget Approval"


def test_approval_that_moves_the_pipeline_stays_within_14_queries(acme):
    # given: Final Finance Sign-off (user: CFO); next is Executive Approval (consensus)
    request, attachment = start_purchase_request(acme, at_stage="Final Finance Sign-off")
    cfo = fresh(acme.user("cfo"))

    # when (measured: 13; 19 before)
    with query_budget(14):
        approve_stage(obj=request, user=cfo, form_data=FORM_DATA["Final Finance Sign-off"])

    # then
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Executive Approval",
        "Executive Approval",
    )


def test_approval_of_one_consensus_share_stays_within_11_queries(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    executive = fresh(acme.user("executive1"))

    # when (measured: 10; 12 before)
    with query_budget(11):
        approve_stage(obj=request, user=executive)

    # then: the other executive's share keeps the stage open
    assert attachment_state(attachment)[2] == "Executive Approval"


def test_final_approval_stays_within_11_queries(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    approve_stage(obj=request, user=acme.user("executive1"))
    executive = fresh(acme.user("executive2"))

    # when: completes and writes the configured status to the object (measured: 10; 13 before)
    with query_budget(11):
        approve_stage(obj=request, user=executive)

    # then
    assert attachment_state(attachment)[0] == AttachmentStatus.COMPLETED
    request.refresh_from_db()
    assert request.workflow_status == "approved"


def test_reject_stays_within_12_queries(acme):
    # given: Budget Approval (anyone: two open shares)
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    manager = fresh(acme.user("budget_manager1"))

    # when (measured: 10)
    with query_budget(12):
        reject_stage(obj=request, user=manager, reason="Over budget")

    # then
    assert attachment_state(attachment)[0] == AttachmentStatus.REJECTED
    request.refresh_from_db()
    assert request.workflow_status == "denied"


def test_delegate_by_user_id_stays_within_11_queries(acme):
    # given
    request, attachment = start_purchase_request(acme)
    holder = fresh(current_approvers(attachment)[0])

    # when: the delegate is given by id, as the API does (measured: 10)
    with query_budget(11):
        delegate_stage(obj=request, user=holder, to_user=acme.user("employee").pk, reason="Away")

    # then
    assert [u.username for u in current_approvers(attachment)] == ["acme-employee"]


def test_request_resubmission_stays_within_13_queries(acme):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    first_stage = ordered_stages(attachment.workflow_id)[0]
    manager = fresh(acme.user("budget_manager1"))

    # when: back to Initial Review, which reopens a round-robin role step (measured: 12; 18 before)
    with query_budget(13):
        request_resubmission(
            obj=request, user=manager, stage=first_stage.pk, reason="Add the quote"
        )

    # then
    assert attachment_state(attachment)[2] == "Initial Review"


# --------------------------------------------------------------------------- the shortcuts stay correct


def test_completion_without_a_model_configuration_leaves_the_object_alone(acme):
    # given: the configuration (read together with the attachment lock) is gone
    request, attachment = start_purchase_request(acme, at_stage="Executive Approval")
    WorkflowConfiguration.objects.filter(
        content_type=ContentType.objects.get_for_model(PurchaseRequest)
    ).delete()

    # when
    approve_stage(obj=request, user=acme.user("executive1"))
    approve_stage(obj=request, user=acme.user("executive2"))

    # then
    assert attachment_state(attachment)[0] == AttachmentStatus.COMPLETED
    request.refresh_from_db()
    assert request.workflow_status == "pending"


def test_an_approval_never_completes_a_workflow_whose_current_stage_is_gone(acme):
    # given: an attachment running the template itself; its stages cannot be removed while it
    # runs, so its current stage is lost the only other way, behind the engine's back
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.company, disable_clone=True
    )
    reviewer = current_approvers(attachment)[0]
    WorkflowAttachment.objects.filter(pk=attachment.pk).update(
        current_stage=None, current_pipeline=None
    )
    before = database_state()

    # when: the open step is approved
    with pytest.raises(InvalidStateError) as raised:
        approve_stage(obj=request, user=reviewer, form_data=FORM_DATA["Initial Review"])

    # then: fail closed, nothing written, the object is not approved
    assert raised.value.message == (
        "The workflow has no current stage, so nothing can be decided on it; "
        "an administrator has to cancel it."
    )
    assert database_state() == before
    request.refresh_from_db()
    assert request.workflow_status == "pending"
    assert (
        WorkflowEvent.objects.filter(attachment=attachment, event_type=EventType.COMPLETED).count()
        == 0
    )
