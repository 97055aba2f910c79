"""Create demo data: two companies, their people and roles, workflows and purchase requests."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from backend.demo.access import COMPANIES, DEMO_PASSWORD, company_admin_username
from backend.demo.models import PurchaseRequest
from backend.demo.scenario import CompanyScenario, build_company, register_demo_models
from backend.workflows.selectors import user_requires_action
from backend.workflows.services import (
    approve_stage,
    attach_workflow_to_object,
    reject_stage,
)

# What a company's staff demo user may read in the admin (the admin shows them their
# company's rows only); building and editing workflows goes through GraphQL.
STAFF_PERMISSIONS = (
    ("workflows", "view_workflow"),
    ("workflows", "view_pipeline"),
    ("workflows", "view_stage"),
    ("workflows", "view_workflowattachment"),
    ("workflows", "view_workflowevent"),
    ("workflows", "view_dynamicform"),
    ("demo", "view_purchaserequest"),
    ("demo", "view_department"),
)


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
        # From 10,000 the request also needs Executive Approval (a stage condition).
        ("Conference booth", "17400.00", 3, None),
        ("Cloud credits", "3000.00", 3, None),
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


def _company_admin(scenario: CompanyScenario, slug: str, display_name: str) -> None:
    """Create the company's staff user (``acme-admin``), acting for the company."""
    from backend.workflows.models import CompanyMembership

    user, created = get_user_model().objects.get_or_create(
        username=company_admin_username(slug),
        defaults={
            "email": f"staff@{slug}.example",
            "first_name": f"{display_name} admin",
            "is_staff": True,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    CompanyMembership.objects.get_or_create(user=user, defaults={"company": scenario.company})
    for app_label, codename in STAFF_PERMISSIONS:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


class Command(BaseCommand):
    help = "Create (idempotently) the demo companies, roles, workflows and purchase requests."

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo's notifications (three dozen) are counted here instead of printed in full.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            outbox = getattr(mail, "outbox", None)
            mail.outbox = []
            try:
                with transaction.atomic():
                    register_demo_models()
                    User = get_user_model()
                    if not User.objects.filter(username="admin").exists():
                        User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
                    for slug, name in COMPANIES:
                        scenario = build_company(slug, display_name=name, password=DEMO_PASSWORD)
                        _company_admin(scenario, slug, name)
                        _purchase_requests(scenario)
                sent = len(mail.outbox)
            finally:
                if outbox is None:
                    del mail.outbox
                else:
                    mail.outbox = outbox
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: companies acme and globex, their people and purchase requests "
                f"(password '{DEMO_PASSWORD}' for every demo user); {sent} notification e-mails "
                "were composed and not sent."
            )
        )
