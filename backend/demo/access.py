"""Who is who in the demo data, and a fresh API token for the five-minute tour.

Only ``seed_demo`` creates these users, and ``serve`` only seeds with ``DEBUG`` on or
``--demo``: a production database never has them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from backend.accounts.models import ApiToken
from backend.accounts.tokens import create_api_token

DEMO_PASSWORD = "demo"
COMPANIES = (("acme", "Acme Corp"), ("globex", "Globex"))
# The approver whose token ``serve`` prints: "Developer laptops" waits for a budget manager.
TOUR_USERNAME = "acme-budget_manager1"
TOUR_TOKEN_NAME = "serve: five-minute tour"


@dataclass(frozen=True)
class DemoUser:
    """One demo user (shown for Acme; Globex has the same with the ``globex-`` prefix)."""

    username: str
    role: str
    may: str


DEMO_USERS = (
    DemoUser(
        "acme-admin",
        "Staff of Acme",
        "Sign in to /admin/ (Acme's workflows, requests and audit trail, read-only); then "
        "GraphiQL uses the session: build and edit Acme's workflows.",
    ),
    DemoUser(
        "acme-requester",
        "Requester",
        "Owns Acme's purchase requests; starts and cancels their workflows.",
    ),
    DemoUser(
        "acme-finance_reviewer1, acme-finance_reviewer2",
        "Finance Reviewer",
        "Initial Review (round robin: each request goes to one of them).",
    ),
    DemoUser(
        "acme-budget_manager1, acme-budget_manager2",
        "Budget Manager",
        "Budget Approval (either one); 'Developer laptops' waits for them.",
    ),
    DemoUser("acme-cfo", "Chief Financial Officer", "Final Finance Sign-off."),
    DemoUser(
        "acme-executive1, acme-executive2",
        "Executive",
        "Executive Approval (consensus: both must approve).",
    ),
    DemoUser("acme-employee", "Member, no role", "Reads Acme's workflows; approves nothing."),
    DemoUser(
        "acme",
        "The company itself",
        "Manages Acme's workflows (a company is a user, as in django-dynamic-workflows).",
    ),
    DemoUser(
        "admin",
        "Superuser",
        "Everything in /admin/; acts for no company, so GraphQL lists no workflows for it.",
    ),
)


def company_admin_username(slug: str) -> str:
    """Return the username of a company's staff demo user (``acme-admin``)."""
    return f"{slug}-admin"


def demo_data_exists() -> bool:
    """Tell whether ``seed_demo`` has run (with the current demo users) on this database."""
    usernames = [company_admin_username(slug) for slug, _ in COMPANIES] + [TOUR_USERNAME]
    return get_user_model().objects.filter(username__in=usernames).count() == len(usernames)


def issue_tour_token() -> str:
    """Replace the tour user's ``serve`` token with a new one; return the raw token."""
    user = get_user_model().objects.get(username=TOUR_USERNAME)
    ApiToken.objects.filter(user=user, name=TOUR_TOKEN_NAME).delete()
    _, raw = create_api_token(user=user, name=TOUR_TOKEN_NAME)
    return raw
