"""Migrate, seed demo data when the database is empty, and serve the ASGI app with uvicorn."""

from __future__ import annotations

from typing import Any

import uvicorn
from django.core.management import call_command
from django.core.management.base import BaseCommand

from backend.workflows.models import Workflow


class Command(BaseCommand):
    help = "Migrate, seed the demo data if the database is empty, then serve with uvicorn."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--no-seed", action="store_true", help="Do not create demo data.")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_seed"] and not Workflow.objects.exists():
            call_command("seed_demo")
        self.stdout.write(
            f"Serving on http://{options['host']}:{options['port']}/ "
            "(GraphQL at /graphql, admin at /admin/)"
        )
        uvicorn.run(
            "backend.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            log_level="info",
        )
