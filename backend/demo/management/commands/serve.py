"""Migrate, seed demo data when the database is empty, build the dashboard example if needed,
and serve the ASGI app with uvicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from backend.workflows.models import Workflow

EXAMPLE_DIR = Path(settings.BASE_DIR) / "frontend-examples" / "web"


class Command(BaseCommand):
    help = (
        "Migrate, seed the demo data if the database is empty, build the dashboard example "
        "(served at /examples/) if it is not built and npm is installed, then serve with uvicorn."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--no-seed", action="store_true", help="Do not create demo data.")
        parser.add_argument(
            "--no-build-examples",
            action="store_true",
            help="Do not build the dashboard example (frontend-examples/web) when it is not built.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_seed"] and not Workflow.objects.exists():
            call_command("seed_demo")
        if not options["no_build_examples"]:
            self.build_examples()
        self.stdout.write(
            f"Serving on http://{options['host']}:{options['port']}/ "
            "(GraphQL at /graphql, admin at /admin/, dashboard example at /examples/)"
        )
        uvicorn.run(
            "backend.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            log_level="info",
        )

    def build_examples(self) -> None:
        """Build the dashboard example once; the API is served whether or not this works."""
        if (EXAMPLE_DIR / "dist" / "index.html").is_file() or not EXAMPLE_DIR.is_dir():
            return
        npm = shutil.which("npm")
        if npm is None:
            self.stdout.write(
                "Note: npm is not installed, so the dashboard example at /examples/ is not built "
                "(install Node.js 20+ and run: cd frontend-examples/web && npm ci && npm run build)."
            )
            return
        # The build reads schema/schema.graphql, or asks this Python for the schema.
        env = {**os.environ, "WORKFLOWQL_PYTHON": sys.executable}
        steps = (
            []
            if (EXAMPLE_DIR / "node_modules").is_dir()
            else [[npm, "ci", "--no-audit", "--no-fund"]]
        )
        steps.append([npm, "run", "build"])
        self.stdout.write("Building the dashboard example (frontend-examples/web)...")
        for step in steps:
            result = subprocess.run(step, cwd=EXAMPLE_DIR, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                self.stderr.write((result.stdout + result.stderr)[-4000:])
                self.stderr.write(
                    f"Warning: `{' '.join(step[1:])}` failed in {EXAMPLE_DIR}; serving the API "
                    "without the dashboard example."
                )
                return
        self.stdout.write("Dashboard example built: frontend-examples/web/dist.")
