"""Report on, or delete, finished workflow attachments (see ``backend.workflows.cleanup``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.workflows.cleanup import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_STATUSES,
    cleanup_completed_workflow_attachments,
    format_cleanup_statistics,
    get_cleanup_statistics,
)
from backend.workflows.constants import FINISHED_STATUSES
from backend.workflows.exceptions import WorkflowError

PROGRESS_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Print cleanup statistics (--stats) or delete workflow attachments that finished more "
        "than N days ago (--days N), with their approval flows, audit events and unused hidden "
        "workflow copies. Business objects and workflow templates are never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stats", action="store_true", help="Print statistics and exit.")
        parser.add_argument(
            "--days", type=int, help="Delete attachments finished at least this many days ago."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--status",
            nargs="+",
            choices=list(FINISHED_STATUSES),
            default=list(DEFAULT_STATUSES),
            help="Statuses to clean (default: completed rejected).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help="Attachments deleted per transaction (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["stats"]:
            self.stdout.write(format_cleanup_statistics(get_cleanup_statistics()))
            return
        if options["days"] is None:
            raise CommandError("Give --stats, or --days N to clean up (add --dry-run to preview).")
        progress = self._progress if self.stdout.isatty() and not options["dry_run"] else None
        try:
            result = cleanup_completed_workflow_attachments(
                older_than_days=options["days"],
                dry_run=options["dry_run"],
                statuses=options["status"],
                batch_size=options["batch_size"],
                progress=progress,
            )
        except WorkflowError as error:
            raise CommandError(error.message) from error
        if progress is not None:
            self.stdout.write("")
        self.stdout.write(self._summary(result))

    def _progress(self, done: int, total: int) -> None:
        filled = PROGRESS_WIDTH * done // total if total else PROGRESS_WIDTH
        bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
        self.stdout.write(f"\r  [{bar}] {done}/{total}", ending="")
        self.stdout.flush()

    @staticmethod
    def _summary(result: dict[str, Any]) -> str:
        scope = (
            f"{' and '.join(result['statuses'])} workflow attachments finished at least "
            f"{result['older_than_days']} days ago"
        )
        counts = (
            f"{result['attachments_deleted']} attachments, "
            f"{result['approval_flows_deleted']} approval flows with "
            f"{result['approval_steps_deleted']} approval steps, "
            f"{result['workflow_copies_deleted']} hidden workflow copies and "
            f"{result['events_deleted']} audit events"
        )
        if result["dry_run"]:
            return f"Dry run ({scope}): would delete {counts}. Nothing was deleted."
        return f"Cleaned up {scope}: deleted {counts}."
