"""Benchmark the cleanup of finished attachments: wall time and peak memory.

Run from the project root (the file is not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.bench_cleanup
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.benchmarks.bench_cleanup
    .venv/bin/python -m tests.benchmarks.bench_cleanup --attachments 20000 --only sqlite --tracemalloc

SQLite is always measured (in a temporary file); PostgreSQL too when ``DATABASE_URL`` is a
postgres URL. Like ``bench_engine``, every database is a throwaway one with its own name,
created with ``setup_databases`` and dropped at the end: the developer's database and the
``test_*`` databases of a concurrent pytest run are never touched.

Two child processes per database, so the memory figure is the cleanup's own:

1. *populate* creates the rows with ``bulk_create`` (not through the services, which would
   take hours): the seed's Purchase Request template, one live attachment, and N finished
   attachments (completed and rejected, finished 31-400 days ago), each with its hidden
   running copy (1 pipeline, 2 stages, 1 stored action), 4 audit events and an approval flow
   with 2 steps (13 rows per attachment);
2. *clean* runs ``get_cleanup_statistics``, a dry run, then
   ``cleanup_completed_workflow_attachments(older_than_days=30)`` (batches of 1,000), checks
   that exactly the finished attachments and everything only they used are gone (template and
   live attachment kept), then drops the database. Its peak resident set size
   (``resource.getrusage``, including the interpreter and Django, about 80 MB) is the figure
   held against the 300 MB target; ``--tracemalloc`` also reports the Python heap peak of the
   cleanup call alone (slower).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.report import print_table, vendor_name
from tests.benchmarks.targets import database_targets

RESULT_MARKER = "BENCH-RESULT "
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TARGET_MB = 300
CHUNK = 5000


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _django(database_name: str | None) -> Any:
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings_test"
    import django

    django.setup()
    from django.db import connection

    if database_name is not None:  # the clean child works on the populated database
        connection.close()
        connection.settings_dict["NAME"] = database_name
    return connection


# --------------------------------------------------------------------------- populate child


def populate(count: int, test_db_name: str) -> dict[str, Any]:
    connection = _django(None)
    from django.test.utils import setup_databases

    connection.settings_dict.setdefault("TEST", {})["NAME"] = test_db_name
    setup_databases(verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set())
    database_name = connection.settings_dict["NAME"]

    from datetime import timedelta

    from approval_workflow.models import ApprovalFlow, ApprovalInstance
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone

    from backend.demo.models import PurchaseRequest
    from backend.demo.scenario import build_company, register_demo_models
    from backend.workflows.models import (
        Pipeline,
        Stage,
        Workflow,
        WorkflowAction,
        WorkflowAttachment,
        WorkflowEvent,
    )
    from backend.workflows.services import attach_workflow_to_object
    from tests.support.helpers import make_purchase_request

    started = time.perf_counter()
    register_demo_models()
    scenario = build_company("bench", display_name="Bench")
    live = make_purchase_request(scenario)
    attach_workflow_to_object(obj=live, workflow=scenario.workflow, user=scenario.user("requester"))
    company = scenario.company
    actor = scenario.user("cfo")
    content_type = ContentType.objects.get_for_model(PurchaseRequest)
    now = timezone.now()
    first_object_id = 1_000_000  # never collides with real purchase requests
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        with transaction.atomic():
            copies = Workflow.objects.bulk_create(
                [
                    Workflow(
                        company=company,
                        name_en="Purchase Request Approval (Copy)",
                        is_hidden=True,
                        cloned_from=scenario.workflow,
                    )
                    for _ in range(size)
                ]
            )
            pipelines = Pipeline.objects.bulk_create(
                [Pipeline(workflow=copy, name_en="Finance Review", order=1) for copy in copies]
            )
            stages = Stage.objects.bulk_create(
                [
                    Stage(pipeline=pipeline, name_en=name, order=order)
                    for pipeline in pipelines
                    for order, name in ((1, "Initial Review"), (2, "Budget Approval"))
                ]
            )
            WorkflowAction.objects.bulk_create(
                [
                    WorkflowAction(
                        workflow=copy,
                        action_type="on_workflow_complete",
                        function_path="backend.workflows.notifications.send_workflow_notification",
                        parameters={"template": "approved"},
                    )
                    for copy in copies
                ]
            )
            attachments = WorkflowAttachment.objects.bulk_create(
                [
                    WorkflowAttachment(
                        company=company,
                        content_type=content_type,
                        object_id=str(first_object_id + start + index),
                        workflow=copy,
                        status="completed" if index % 4 else "rejected",
                        started_by=actor,
                        started_at=now - timedelta(days=402),
                        completed_at=now - timedelta(days=31 + (start + index) % 370),
                    )
                    for index, copy in enumerate(copies)
                ]
            )
            WorkflowEvent.objects.bulk_create(
                [
                    WorkflowEvent(
                        attachment=attachment,
                        company=company,
                        event_type=event_type,
                        actor=actor,
                        from_stage=stages[2 * index],
                        to_stage=stages[2 * index + 1],
                    )
                    for index, attachment in enumerate(attachments)
                    for event_type in ("started", "approved", "stage_moved", "completed")
                ]
            )
            flows = ApprovalFlow.objects.bulk_create(
                [
                    ApprovalFlow(content_type=content_type, object_id=attachment.object_id)
                    for attachment in attachments
                ]
            )
            ApprovalInstance.objects.bulk_create(
                [
                    ApprovalInstance(
                        flow=flow, step_number=step, status="approved", assigned_to=actor
                    )
                    for flow in flows
                    for step in (1, 2)
                ]
            )
    connection.close()
    return {
        "database_name": database_name,
        "vendor": connection.vendor,
        "populate_seconds": time.perf_counter() - started,
    }


# --------------------------------------------------------------------------- clean child


def clean(database_name: str, original_name: str, use_tracemalloc: bool) -> dict[str, Any]:
    connection = _django(database_name)
    from approval_workflow.models import ApprovalFlow, ApprovalInstance

    from backend.workflows.cleanup import (
        cleanup_completed_workflow_attachments,
        get_cleanup_statistics,
    )
    from backend.workflows.models import (
        Pipeline,
        Stage,
        Workflow,
        WorkflowAction,
        WorkflowAttachment,
        WorkflowEvent,
    )

    def counts() -> dict[str, int]:
        return {
            "attachments": WorkflowAttachment.objects.count(),
            "workflows": Workflow.objects.count(),
            "pipelines": Pipeline.objects.count(),
            "stages": Stage.objects.count(),
            "actions": WorkflowAction.objects.count(),
            "events": WorkflowEvent.objects.count(),
            "flows": ApprovalFlow.objects.count(),
            "steps": ApprovalInstance.objects.count(),
        }

    try:
        before = counts()
        rss_before = _peak_rss_mb()
        started = time.perf_counter()
        statistics = get_cleanup_statistics()
        stats_seconds = time.perf_counter() - started

        started = time.perf_counter()
        preview = cleanup_completed_workflow_attachments(older_than_days=30, dry_run=True)
        dry_run_seconds = time.perf_counter() - started

        statements: list[float] = []

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            begun = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append(time.perf_counter() - begun)

        heap_peak = None
        if use_tracemalloc:
            import tracemalloc

            tracemalloc.start()
        started = time.perf_counter()
        with connection.execute_wrapper(timed):
            result = cleanup_completed_workflow_attachments(older_than_days=30)
        cleanup_seconds = time.perf_counter() - started
        if use_tracemalloc:
            heap_peak = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
            tracemalloc.stop()
        peak = _peak_rss_mb()
        after = counts()
        again = cleanup_completed_workflow_attachments(older_than_days=30)
    finally:
        connection.close()
        connection.creation.destroy_test_db(original_name, verbosity=0)
    return {
        "vendor": connection.vendor,
        "before": before,
        "after": after,
        "statistics_finished": statistics["finished_attachments"],
        "preview": preview,
        "result": result,
        "second_run_attachments": again["attachments_deleted"],
        "stats_seconds": stats_seconds,
        "dry_run_seconds": dry_run_seconds,
        "cleanup_seconds": cleanup_seconds,
        "peak_rss_mb": peak,
        "rss_before_cleanup_mb": rss_before,
        "heap_peak_mb": heap_peak,
        "queries": len(statements),
        "sql_seconds": sum(statements),
    }


# --------------------------------------------------------------------------- parent


def _child(arguments: list[str], database_url: str) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "tests.benchmarks.bench_cleanup", *arguments]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    sys.stderr.write(completed.stdout + completed.stderr)
    raise SystemExit(f"benchmark child {arguments[0]} for {database_url.split(':')[0]} failed")


def measure(database_url: str, count: int, use_tracemalloc: bool, tmp: str) -> dict[str, Any]:
    name = f"bench_cleanup_{os.getpid()}"
    original = database_url.rsplit("/", 1)[-1]
    if database_url.startswith("sqlite"):
        name = str(Path(tmp) / f"{name}.sqlite3")
        original = f"{tmp}/unused.sqlite3"
    populated = _child(["--populate", str(count), "--name", name], database_url)
    arguments = ["--clean", populated["database_name"], "--original", original]
    if use_tracemalloc:
        arguments.append("--tracemalloc")
    cleaned = _child(arguments, database_url)
    return {**populated, **cleaned}


def check(result: dict[str, Any], count: int) -> list[str]:
    """Return what went wrong (empty when the cleanup did exactly its job)."""
    problems = []
    before, after, deleted = result["before"], result["after"], result["result"]
    expected_after = {
        "attachments": 1,  # the live one
        "workflows": 2,  # the template and the live attachment's copy
        "pipelines": 4,
        "stages": 8,
        "actions": 0,
        "events": 1,  # the live attachment's "started"
        "flows": 1,
    }
    for key, value in expected_after.items():
        if after[key] != value:
            problems.append(f"{key}: {after[key]} left, expected {value}")
    if deleted["attachments_deleted"] != count or deleted["workflow_copies_deleted"] != count:
        problems.append(f"deleted {deleted}")
    if {k: v for k, v in result["preview"].items() if k != "dry_run"} != {
        k: v for k, v in deleted.items() if k != "dry_run"
    }:
        problems.append("the dry run counted differently")
    if result["second_run_attachments"] != 0:
        problems.append("a second run deleted more")
    if before["events"] - after["events"] != deleted["events_deleted"]:
        problems.append("event counts disagree")
    return problems


def report(results: list[dict[str, Any]], count: int) -> None:
    print(
        f"Cleanup benchmark: {count:,} finished attachments, each with its hidden copy "
        "(1 pipeline, 2 stages, 1 action), 4 audit events and an approval flow with 2 steps."
    )
    header = [
        "database",
        "rows before",
        "populate s",
        "statistics s",
        "dry run s",
        "cleanup s",
        "of which SQL s",
        "queries",
        "attachments/s",
        "peak RSS MB",
        "heap peak MB",
        "check",
    ]
    rows = []
    for result in results:
        problems = check(result, count)
        heap = f"{result['heap_peak_mb']:.1f}" if result["heap_peak_mb"] is not None else "-"
        rows.append(
            [
                vendor_name(result["vendor"]),
                f"{sum(result['before'].values()):,}",
                f"{result['populate_seconds']:.1f}",
                f"{result['stats_seconds']:.2f}",
                f"{result['dry_run_seconds']:.2f}",
                f"{result['cleanup_seconds']:.1f}",
                f"{result['sql_seconds']:.1f}",
                f"{result['queries']:,}",
                f"{count / result['cleanup_seconds']:,.0f}",
                f"{result['peak_rss_mb']:.0f}",
                heap,
                "ok" if not problems else "; ".join(problems),
            ]
        )
    print_table(header, rows)
    worst = max(result["peak_rss_mb"] for result in results)
    verdict = "within" if worst < TARGET_MB else "OVER"
    print(f"Peak RSS {worst:.0f} MB: {verdict} the {TARGET_MB} MB target.")
    if any(check(result, count) for result in results):
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--attachments", type=int, default=100_000, help="finished attachments")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="measure one backend")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap")
    parser.add_argument("--populate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--clean", help=argparse.SUPPRESS)
    parser.add_argument("--original", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))

    if args.populate is not None:
        print(RESULT_MARKER + json.dumps(populate(args.populate, args.name)))
        return
    if args.clean is not None:
        print(RESULT_MARKER + json.dumps(clean(args.clean, args.original, args.tracemalloc)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-cleanup-") as tmp:
        targets = database_targets(args.only, tmp)
        results = [measure(url, args.attachments, args.tracemalloc, tmp) for url in targets]
    report(results, args.attachments)


if __name__ == "__main__":
    main()
