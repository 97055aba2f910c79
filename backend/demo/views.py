"""The landing page at ``/``: where GraphiQL, the dashboard and the admin are, and who is who."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backend.demo.access import DEMO_PASSWORD, DEMO_USERS, TOUR_USERNAME, demo_data_exists

EXAMPLES_INDEX = Path(settings.BASE_DIR) / "frontend-examples" / "web" / "dist" / "index.html"


def show_demo_users() -> bool:
    """Tell whether to list the demo users: demo mode (DEBUG or ``serve --demo``) and seeded."""
    demo_mode = settings.DEBUG or getattr(settings, "WORKFLOWQL_DEMO", False)
    return bool(demo_mode and demo_data_exists())


def landing(request: HttpRequest) -> HttpResponse:
    """Link GraphiQL, the dashboard and the admin; list the demo users when there are some."""
    context = {
        "graphiql": bool(getattr(settings, "GRAPHQL_IDE", settings.DEBUG)),
        "dashboard_built": EXAMPLES_INDEX.is_file(),
        "demo_users": DEMO_USERS if show_demo_users() else (),
        "demo_password": DEMO_PASSWORD,
        "tour_username": TOUR_USERNAME,
    }
    return render(request, "demo/landing.html", context)
