"""Build the seed's Purchase Request scenario for one company (used by ``seed_demo`` and tests).

Finance Review: Initial Review [role, round robin] -> Budget Approval [role, anyone]
-> Final Finance Sign-off [user: CFO]; Executive Approval: Executive Approval [role, consensus],
only for requests of 10,000 or more (a stage condition; below that the pipeline is skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from backend.demo.models import Department, PurchaseRequest
from backend.workflows.models import CompanyMembership, DynamicForm, Workflow
from backend.workflows.services import create_workflow, register_model_for_workflow

ROLE_NAMES = ("Finance Reviewer", "Budget Manager", "Executive")
PURCHASE_WORKFLOW_SLUG = "purchase_approval"
# Requests from this amount on need Executive Approval (the stage's condition).
EXECUTIVE_APPROVAL_FROM = 10000


@dataclass
class CompanyScenario:
    company: Any
    users: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, Group] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    forms: dict[str, DynamicForm] = field(default_factory=dict)
    workflow: Workflow | None = None

    def user(self, name: str) -> Any:
        return self.users[name]


def _user(username: str, *, email: str, first_name: str = "", password: str | None = None) -> Any:
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": email, "first_name": first_name}
    )
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user


def build_company(
    slug: str,
    *,
    display_name: str,
    reviewers: int = 2,
    budget_managers: int = 2,
    executives: int = 2,
    password: str | None = None,
) -> CompanyScenario:
    """Create (or reuse) a company with role groups, a CFO, departments, forms and the workflow."""
    company = _user(slug, email=f"admin@{slug}.example", first_name=display_name, password=password)
    scenario = CompanyScenario(company=company)
    scenario.users["company"] = company

    def member(username: str, first_name: str) -> Any:
        user = _user(
            f"{slug}-{username}",
            email=f"{username}@{slug}.example",
            first_name=first_name,
            password=password,
        )
        CompanyMembership.objects.get_or_create(user=user, defaults={"company": company})
        scenario.users[username] = user
        return user

    counts = {
        "Finance Reviewer": reviewers,
        "Budget Manager": budget_managers,
        "Executive": executives,
    }
    for role_name in ROLE_NAMES:
        group, _ = Group.objects.get_or_create(name=f"{display_name}: {role_name}")
        scenario.roles[role_name] = group
        key = role_name.lower().replace(" ", "_")
        for number in range(1, counts[role_name] + 1):
            user = member(f"{key}{number}", f"{role_name} {number}")
            user.groups.add(group)
    member("cfo", "Chief Financial Officer")
    member("requester", "Requester")
    member("employee", "Employee")

    for name in ("Finance", "Management"):
        department, _ = Department.objects.get_or_create(company=company, name=name)
        scenario.departments[name] = department
    for name, fields in (
        ("Initial Review Form", [{"name": "budget_code", "required": True}]),
        ("Budget Approval Form", [{"name": "allocated_budget", "required": True}]),
        ("Final Approval Form", [{"name": "finance_ref", "required": True}]),
    ):
        form, _ = DynamicForm.objects.get_or_create(
            company=company, name=name, defaults={"schema": {"fields": fields}}
        )
        scenario.forms[name] = form

    scenario.workflow = Workflow.objects.filter(
        company=company, slug=PURCHASE_WORKFLOW_SLUG, is_hidden=False
    ).first() or create_purchase_workflow(scenario)
    return scenario


def purchase_workflow_pipelines(
    scenario: CompanyScenario, *, with_forms: bool = True
) -> list[dict[str, Any]]:
    """Return the seed's two pipelines as ``create_workflow`` input."""

    def form(name: str) -> dict[str, Any]:
        return {"required_form": scenario.forms[name].pk} if with_forms else {}

    return [
        {
            "name_en": "Finance Review",
            "name_ar": "مراجعة مالية",
            "department": scenario.departments["Finance"],
            "stages": [
                {
                    "name_en": "Initial Review",
                    "name_ar": "المراجعة الأولية",
                    "color": "#3498db",
                    "approvals": [
                        {
                            "approval_type": "role",
                            "user_role": scenario.roles["Finance Reviewer"].pk,
                            "role_selection_strategy": "round_robin",
                            **form("Initial Review Form"),
                        }
                    ],
                },
                {
                    "name_en": "Budget Approval",
                    "name_ar": "موافقة الميزانية",
                    "color": "#f39c12",
                    "approvals": [
                        {
                            "approval_type": "role",
                            "user_role": scenario.roles["Budget Manager"].pk,
                            "role_selection_strategy": "anyone",
                            **form("Budget Approval Form"),
                        }
                    ],
                },
                {
                    "name_en": "Final Finance Sign-off",
                    "name_ar": "الموافقة المالية النهائية",
                    "color": "#27ae60",
                    "approvals": [
                        {
                            "approval_type": "user",
                            "approval_user": scenario.users["cfo"].pk,
                            **form("Final Approval Form"),
                        }
                    ],
                },
            ],
        },
        {
            "name_en": "Executive Approval",
            "name_ar": "موافقة تنفيذية",
            "department": scenario.departments["Management"],
            "stages": [
                {
                    "name_en": "Executive Approval",
                    "name_ar": "موافقة تنفيذية",
                    "color": "#8e44ad",
                    "condition": {"amount__gte": EXECUTIVE_APPROVAL_FROM},
                    "approvals": [
                        {
                            "approval_type": "role",
                            "user_role": scenario.roles["Executive"].pk,
                            "role_selection_strategy": "consensus",
                        }
                    ],
                }
            ],
        },
    ]


def create_purchase_workflow(scenario: CompanyScenario, *, with_forms: bool = True) -> Workflow:
    """Create the seed's Purchase Request Approval workflow for the scenario's company."""
    return create_workflow(
        company=scenario.company,
        name_en="Purchase Request Approval",
        name_ar="موافقة طلب الشراء",
        description="Finance review followed by executive approval.",
        slug=PURCHASE_WORKFLOW_SLUG,
        created_by=scenario.company,
        pipelines=purchase_workflow_pipelines(scenario, with_forms=with_forms),
    )


def register_demo_models() -> None:
    """Register the demo models with status values like the seed's examples."""
    from backend.demo.models import Opportunity, Ticket

    register_model_for_workflow(
        PurchaseRequest,
        status_field="workflow_status",
        completion_status_value="approved",
        rejection_status_value="denied",
    )
    register_model_for_workflow(
        Ticket,
        status_field="status",
        completion_status_value="closed",
        rejection_status_value="cancelled",
    )
    register_model_for_workflow(
        Opportunity,
        status_field="status",
        completion_status_value="won",
        rejection_status_value="lost",
    )
