"""Send due reminders and apply the timeouts of expired steps (run it every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.workflows.services.deadlines import DEFAULT_BATCH_SIZE, process_deadlines


class Command(BaseCommand):
    help = (
        "Remind the holders of steps whose reminder is due and apply on_timeout to steps past "
        "their due time. Idempotent and safe to run on several hosts at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help="Steps claimed per transaction (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run = process_deadlines(batch_size=max(1, options["batch_size"]))
        self.stdout.write(
            f"reminded steps: {run.reminded_steps}, escalated: {run.escalated}, "
            f"rejected: {run.rejected}, approved: {run.approved}, notified: {run.notified}, "
            f"busy: {run.busy}, failed: {len(run.failed)}"
        )
        for failure in run.failed:
            self.stderr.write(f"failed: {failure}")
