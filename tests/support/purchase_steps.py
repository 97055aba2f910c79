"""Drive the seed's Purchase Request workflow to a given stage."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from backend.workflows.services import approve_stage, attach_workflow_to_object
from tests.support.database_state import attachment_state
from tests.support.helpers import approvers_of, make_purchase_request

STAGE_ORDER = ("Initial Review", "Budget Approval", "Final Finance Sign-off", "Executive Approval")

# Form data satisfying each stage's required form in the seed's workflow.
FORM_DATA: dict[str, dict[str, str] | None] = {
    "Initial Review": {"budget_code": "BDG-1"},
    "Budget Approval": {"allocated_budget": "5000"},
    "Final Finance Sign-off": {"finance_ref": "FIN-1"},
    "Executive Approval": None,
}


def current_approvers(attachment: Any) -> list[Any]:
    """Return the users holding a current step of the attachment, by username."""
    usernames = approvers_of(attachment)
    users = {u.username: u for u in get_user_model().objects.filter(username__in=usernames)}
    return [users[name] for name in usernames]


def approve_current_stage(attachment: Any, obj: Any) -> None:
    """Approve the attachment's current stage with every approver it needs."""
    _, _, stage_name = attachment_state(attachment)
    approvers = current_approvers(attachment)
    if stage_name != "Executive Approval":  # every other seed stage needs one approval
        approvers = approvers[:1]
    for user in approvers:
        approve_stage(obj=obj, user=user, form_data=FORM_DATA[stage_name])


def start_purchase_request(
    scenario: Any, *, at_stage: str = "Initial Review", **request_fields: Any
):
    """Create a purchase request, attach the seed workflow and approve until ``at_stage``."""
    request = make_purchase_request(scenario, **request_fields)
    attachment = attach_workflow_to_object(
        obj=request, workflow=scenario.workflow, user=scenario.user("requester")
    )
    for _ in range(STAGE_ORDER.index(at_stage)):
        approve_current_stage(attachment, request)
    assert attachment_state(attachment)[2] == at_stage
    return request, attachment
