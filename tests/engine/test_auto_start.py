"""Auto-start: a newly created object gets its workflow attached and started when it matches."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from backend.demo.models import PurchaseRequest
from backend.workflows.constants import AttachmentStatus, EventType
from backend.workflows.models import WorkflowAttachment
from backend.workflows.services import get_workflow_attachment, register_model_for_workflow
from tests.support.database_state import attachment_state, event_types
from tests.support.helpers import approvers_of, make_purchase_request

pytestmark = pytest.mark.django_db


def auto_start_settings(rules: dict[str, Any]) -> override_settings:
    return override_settings(
        DJANGO_WORKFLOW_ENGINE={**settings.DJANGO_WORKFLOW_ENGINE, "AUTO_START_WORKFLOWS": rules}
    )


PURCHASES_FROM_1000 = {
    "demo.PurchaseRequest": {
        "workflow_slug": "purchase_approval",
        "conditions": {"amount__gte": 1000},
    }
}


def test_a_matching_purchase_request_starts_its_workflow_on_creation(acme):
    # when
    with auto_start_settings(PURCHASES_FROM_1000):
        request = make_purchase_request(acme, amount="2500.00")

    # then
    attachment = get_workflow_attachment(request)
    assert attachment is not None
    assert attachment.workflow.cloned_from_id == acme.workflow.pk
    assert attachment.started_by == acme.user("requester")
    assert attachment_state(attachment) == (
        AttachmentStatus.IN_PROGRESS,
        "Finance Review",
        "Initial Review",
    )
    assert event_types(attachment) == [EventType.ATTACHED, EventType.STARTED]
    assert approvers_of(attachment) == ["acme-finance_reviewer1"]


@pytest.mark.parametrize(
    ("amount", "started"), [("10.00", False), ("999.99", False), ("1000.00", True)]
)
def test_auto_start_conditions_decide(acme, amount, started):
    with auto_start_settings(PURCHASES_FROM_1000):
        request = make_purchase_request(acme, amount=amount)

    assert WorkflowAttachment.objects.filter(object_id=str(request.pk)).exists() is started


def test_saving_an_existing_object_does_not_start_a_workflow(acme):
    request = make_purchase_request(acme, amount="2500.00")

    with auto_start_settings(PURCHASES_FROM_1000):
        request.title = "Edited"
        request.save()

    assert WorkflowAttachment.objects.count() == 0


def test_no_rule_means_no_auto_start(acme):
    request = make_purchase_request(acme, amount="2500.00")

    assert get_workflow_attachment(request) is None


@pytest.mark.parametrize(
    "rule",
    [
        {"workflow_slug": "no_such_workflow", "conditions": {"amount__gte": 1000}},
        {"workflow_slug": "purchase_approval", "conditions": {"no_such_field__gte": 1000}},
    ],
    ids=["unknown slug", "invalid conditions"],
)
def test_auto_start_with_an_unusable_rule_attaches_nothing(acme, rule):
    with auto_start_settings({"demo.PurchaseRequest": rule}):
        request = make_purchase_request(acme, amount="2500.00")

    assert PurchaseRequest.objects.filter(pk=request.pk).exists()
    assert WorkflowAttachment.objects.count() == 0


def test_auto_start_uses_the_workflow_of_the_creators_company(acme, globex):
    with auto_start_settings(PURCHASES_FROM_1000):
        acme_request = make_purchase_request(acme, amount="2500.00")
        globex_request = make_purchase_request(globex, amount="2500.00")

    assert get_workflow_attachment(acme_request).workflow.cloned_from_id == acme.workflow.pk
    assert get_workflow_attachment(globex_request).workflow.cloned_from_id == globex.workflow.pk
    assert get_workflow_attachment(globex_request).company_id == globex.company.pk


def test_a_registered_default_workflow_auto_starts_for_its_company_only(acme, globex):
    # given
    register_model_for_workflow(
        PurchaseRequest,
        auto_start=True,
        default_workflow=acme.workflow,
        status_field="workflow_status",
        completion_status_value="approved",
        rejection_status_value="denied",
    )

    # when
    acme_request = make_purchase_request(acme)
    globex_request = make_purchase_request(globex)

    # then
    assert (
        attachment_state(get_workflow_attachment(acme_request))[0] == AttachmentStatus.IN_PROGRESS
    )
    assert get_workflow_attachment(globex_request) is None
