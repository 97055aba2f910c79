"""cancel_workflow: the starter, the company or an administrator may cancel a live workflow."""

from __future__ import annotations

import pytest

from backend.workflows.constants import AttachmentStatus, ErrorCode, EventType
from backend.workflows.exceptions import (
    InvalidStateError,
    NotFoundError,
    WorkflowPermissionDenied,
)
from backend.workflows.models import WorkflowEvent
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    cancel_workflow,
)
from tests.support.database_state import approval_rows, attachment_state, database_state
from tests.support.helpers import make_purchase_request
from tests.support.purchase_steps import FORM_DATA, start_purchase_request

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("canceller", ["requester", "company"])
def test_cancel_workflow_by_the_starter_or_the_company(acme, canceller):
    # given
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")

    # when
    result = cancel_workflow(obj=request, user=acme.user(canceller), reason="No longer needed")

    # then
    assert result.pk == attachment.pk
    assert attachment_state(attachment) == (
        AttachmentStatus.CANCELLED,
        "Finance Review",
        "Budget Approval",
    )
    event = WorkflowEvent.objects.filter(attachment=attachment).last()
    assert (event.event_type, event.actor, event.reason) == (
        EventType.CANCELLED,
        acme.user(canceller),
        "No longer needed",
    )
    # open shares are cancelled, decided ones kept
    assert [row[:2] for row in approval_rows(attachment)] == [
        (1, "approved"),
        (2, "cancelled"),
        (2, "cancelled"),
    ]
    # and nobody can decide any more
    before = database_state()
    with pytest.raises(InvalidStateError) as raised:
        approve_stage(
            obj=request, user=acme.user("budget_manager1"), form_data=FORM_DATA["Budget Approval"]
        )
    assert raised.value.message == "The workflow is cancelled; this action is not possible now."
    with pytest.raises(InvalidStateError):
        cancel_workflow(obj=request, user=acme.user("requester"))
    assert database_state() == before


@pytest.mark.parametrize(
    ("actor", "error_class", "code"),
    [
        ("employee", WorkflowPermissionDenied, ErrorCode.PERMISSION_DENIED),
        ("budget_manager1", WorkflowPermissionDenied, ErrorCode.PERMISSION_DENIED),
        ("globex requester", NotFoundError, ErrorCode.NOT_FOUND),
    ],
)
def test_cancel_workflow_by_anyone_else_changes_nothing(acme, globex, actor, error_class, code):
    request, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    user = globex.user("requester") if actor == "globex requester" else acme.user(actor)
    before = database_state()

    with pytest.raises(error_class) as raised:
        cancel_workflow(obj=request, user=user, reason="Mine now")

    assert raised.value.code == code
    assert database_state() == before


def test_cancel_a_workflow_that_was_never_started(acme):
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester"), auto_start=False
    )

    cancel_workflow(obj=request, user=acme.company)

    assert attachment_state(attachment) == (AttachmentStatus.CANCELLED, None, None)
    assert approval_rows(attachment) == []
