"""Small workflow templates for behaviour tests, built through the public services."""

from __future__ import annotations

from typing import Any

from backend.workflows.models import Workflow
from backend.workflows.services import attach_workflow_to_object, create_workflow
from tests.support.helpers import make_purchase_request


def user_approval(user: Any, **extra: Any) -> dict[str, Any]:
    return {"approval_type": "user", "approval_user": user.pk, **extra}


def role_approval(role: Any, strategy: str = "anyone", **extra: Any) -> dict[str, Any]:
    return {
        "approval_type": "role",
        "user_role": role.pk,
        "role_selection_strategy": strategy,
        **extra,
    }


def two_stage_workflow(
    scenario: Any, approval: dict[str, Any], *, name: str = "Two stages"
) -> Workflow:
    """Return a template: pipeline "Main" with stage "Step" (``approval``) then "After" (the CFO)."""
    return create_workflow(
        company=scenario.company,
        name_en=name,
        created_by=scenario.company,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [
                    {"name_en": "Step", "approvals": [approval]},
                    {"name_en": "After", "approvals": [user_approval(scenario.user("cfo"))]},
                ],
            }
        ],
    )


def attached_request(scenario: Any, workflow: Workflow, **request_fields: Any):
    """Create a purchase request and attach and start ``workflow`` on it as the requester."""
    request = make_purchase_request(scenario, **request_fields)
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=scenario.user("requester")
    )
    return request, attachment
