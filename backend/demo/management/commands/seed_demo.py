"""Create demo data: two companies, their people and roles, workflows and purchase requests."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from backend.demo.models import PurchaseRequest
from backend.demo.scenario import CompanyScenario, build_company, register_demo_models
from backend.workflows.selectors import user_requires_action
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    reject_stage,
)

DEMO_PASSWORD = "demo"
COMPANIES = (("acme", "Acme Corp"), ("globex", "Globex"))


def _approve_current(
    request: PurchaseRequest, scenario: CompanyScenario, form_data: dict[str, Any]
) -> None:
    """Approve the request's current step as whichever company user holds it."""
    for user in scenario.users.values():
        if user_requires_action(request, user):
            approve_stage(obj=request, user=user, form_data=form_data, comment="Looks good.")
            return


def _purchase_requests(scenario: CompanyScenario) -> None:
    requester = scenario.user("requester")
    if PurchaseRequest.objects.filter(requester=requester).exists():
        return
    plans = [
        ("Office chairs", "1800.00", 0, None),
        ("Developer laptops", "12500.00", 1, None),
        ("Conference booth", "7400.00", 3, None),
        ("Cloud credits", "3000.00", 5, None),
        ("Team offsite", "9100.00", 1, "Over the quarterly budget."),
    ]
    forms = [
        {"budget_code": "BDG-2026-01"},
        {"allocated_budget": "15000"},
        {"finance_ref": "FIN-77"},
        None,
        None,
    ]
    assert scenario.workflow is not None  # build_company always sets it
    for title, amount, approvals, rejection in plans:
        request = PurchaseRequest.objects.create(
            title=title, amount=amount, description=f"Demo request: {title}", requester=requester
        )
        attach_workflow_to_object(obj=request, workflow=scenario.workflow, user=requester)
        for index in range(approvals):
            _approve_current(request, scenario, forms[index] or {})
        if rejection:
            for user in scenario.users.values():
                if user_requires_action(request, user):
                    reject_stage(obj=request, user=user, reason=rejection)
                    break
    PurchaseRequest.objects.create(
        title="Printer paper", amount="120.00", description="Not yet submitted", requester=requester
    )


class Command(BaseCommand):
    help = "Create (idempotently) the demo companies, roles, workflows and purchase requests."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            register_demo_models()
            User = get_user_model()
            if not User.objects.filter(username="admin").exists():
                User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
            for slug, name in COMPANIES:
                scenario = build_company(slug, display_name=name, password=DEMO_PASSWORD)
                _purchase_requests(scenario)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: companies acme and globex; users such as acme-cfo, "
                f"acme-executive1 (password '{DEMO_PASSWORD}'); superuser admin."
            )
        )
