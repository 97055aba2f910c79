"""Serve the ASGI app with uvicorn, after migrating.

With ``DEBUG`` on (or ``--demo``) the demo data is created when it is missing, and every
start prints a fresh API token for one demo approver. With ``DEBUG`` off and no ``--demo``,
``serve`` never creates a user or any data. The dashboard example (``/examples/``) is built
in the background when it is missing or older than its sources, so the API answers at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from backend.demo.access import TOUR_USERNAME, demo_data_exists, issue_tour_token
from backend.serving import UVICORN_OPTIONS

EXAMPLE_DIR = Path(settings.BASE_DIR) / "frontend-examples" / "web"
# What the dashboard build reads: a change to any of them makes the built copy stale.
EXAMPLE_SOURCES = (
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
)
ONE_LINE_EMAIL_BACKEND = "backend.demo.mail.OneLineEmailBackend"


def newest_source_mtime(example_dir: Path) -> float:
    """Return the newest modification time among the dashboard's sources (0 when none)."""
    newest = 0.0
    for name in EXAMPLE_SOURCES:
        path = example_dir / name
        files = path.rglob("*") if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                newest = max(newest, file.stat().st_mtime)
    schema_file = Path(settings.BASE_DIR) / "schema" / "schema.graphql"
    if schema_file.is_file():
        newest = max(newest, schema_file.stat().st_mtime)
    return newest


def examples_need_build(example_dir: Path) -> bool:
    """Tell whether the dashboard is not built, or built from older sources."""
    index = example_dir / "dist" / "index.html"
    if not index.is_file():
        return True
    return newest_source_mtime(example_dir) > index.stat().st_mtime


class Command(BaseCommand):
    help = (
        "Migrate, create the demo data (DEBUG or --demo only), build the dashboard example "
        "(/examples/) in the background when npm is installed, then serve with uvicorn."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Create the demo data and its users (known passwords) even with DEBUG off.",
        )
        parser.add_argument(
            "--no-demo",
            "--no-seed",
            dest="no_demo",
            action="store_true",
            help="Do not create demo data, even with DEBUG on.",
        )
        parser.add_argument(
            "--no-build-examples",
            action="store_true",
            help="Do not build the dashboard example (frontend-examples/web).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        demo = options["demo"] or (settings.DEBUG and not options["no_demo"])
        base = f"http://{options['host']}:{options['port']}"
        token = self.prepare_demo() if demo else None
        if not demo and not get_user_model().objects.exists():
            self.stdout.write(
                "No users yet (demo data is created only with DEBUG=1 or --demo). Create the "
                "first one with: python manage.py createsuperuser, then a token with: "
                "python manage.py create_api_token USERNAME"
            )
        build = None if options["no_build_examples"] else self.start_examples_build(base)
        graphql = "GraphiQL" if getattr(settings, "GRAPHQL_IDE", settings.DEBUG) else "GraphQL"
        self.stdout.write(f"WorkflowQL on {base}/  ({graphql} {base}/graphql, admin {base}/admin/)")
        if token is not None:
            self.stdout.write(
                f"Token for {TOUR_USERNAME} (a budget manager at Acme). Paste this line into "
                f"GraphiQL's Headers pane ({base}/graphql):\n"
                f"  {json.dumps({'Authorization': f'Bearer {token}'})}"
            )
        try:
            uvicorn.run(
                "backend.asgi:application",
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                log_level="info",
                # Django's ASGI app has no lifespan events: saying so avoids uvicorn's probe
                # and its "lifespan protocol appears unsupported" line on every start.
                lifespan="off",
                **UVICORN_OPTIONS,  # type: ignore[arg-type]
            )
        finally:
            if build is not None:
                build.stop()

    def prepare_demo(self) -> str:
        """Seed the demo data when missing; return a fresh token for the tour's approver."""
        settings.WORKFLOWQL_DEMO = True
        os.environ["WORKFLOWQL_DEMO"] = "1"  # for worker processes (--workers)
        if "EMAIL_BACKEND" not in os.environ:
            # Notifications as one console line each, in this process and in workers.
            settings.EMAIL_BACKEND = ONE_LINE_EMAIL_BACKEND
            os.environ["EMAIL_BACKEND"] = ONE_LINE_EMAIL_BACKEND
        if not demo_data_exists():
            call_command("seed_demo", stdout=self.stdout)
        return issue_tour_token()

    def start_examples_build(self, base: str) -> ExamplesBuild | None:
        """Start building the dashboard when needed; the API is served meanwhile."""
        if not EXAMPLE_DIR.is_dir() or not examples_need_build(EXAMPLE_DIR):
            return None
        npm = shutil.which("npm")
        if npm is None:
            self.stdout.write(
                "Note: npm is not installed, so the dashboard example at /examples/ is not built "
                "(install Node.js 20.19+ and run: cd frontend-examples/web && npm ci && "
                "npm run build)."
            )
            return None
        self.stdout.write(
            "Building the dashboard example in the background; it appears at "
            f"{base}/examples/ when done."
        )
        build = ExamplesBuild(npm, EXAMPLE_DIR, self.stdout, self.stderr, f"{base}/examples/")
        build.start()
        return build

    def build_examples(self) -> None:
        """Build the dashboard example now, in this thread (when needed and npm is there)."""
        build = self.start_examples_build("")
        if build is not None:
            build.join()


class ExamplesBuild(threading.Thread):
    """``npm ci`` (when needed) and ``npm run build`` in frontend-examples/web, one line out."""

    def __init__(self, npm: str, example_dir: Path, stdout: Any, stderr: Any, url: str) -> None:
        super().__init__(name="examples-build", daemon=True)
        self.npm, self.example_dir, self.url = npm, example_dir, url
        self.out, self.err = stdout, stderr
        self.process: subprocess.Popen[str] | None = None
        self.stopped = False

    def run(self) -> None:
        started = time.monotonic()
        # The build reads schema/schema.graphql, or asks this Python for the schema.
        env = {**os.environ, "WORKFLOWQL_PYTHON": sys.executable}
        steps = [] if (self.example_dir / "node_modules").is_dir() else [["ci", "--no-audit"]]
        steps.append(["run", "build"])
        for step in steps:
            self.process = subprocess.Popen(
                [self.npm, *step],
                cwd=self.example_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            output, _ = self.process.communicate()
            if self.stopped:
                return
            if self.process.returncode != 0:
                self.err.write(output[-4000:])
                self.err.write(
                    f"Warning: `npm {' '.join(step)}` failed in frontend-examples/web; the API "
                    "is served without the dashboard example."
                )
                return
        self.out.write(f"Dashboard example built in {time.monotonic() - started:.0f} s: {self.url}")

    def stop(self) -> None:
        """Stop a build still running (the server is shutting down)."""
        self.stopped = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
