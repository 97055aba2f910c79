"""Benchmark ``process_deadlines``: 10,000 open steps, 1,000 of them due; time and peak memory.

Run from the project root (the file is not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.bench_deadlines
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.benchmarks.bench_deadlines
    .venv/bin/python -m tests.benchmarks.bench_deadlines --steps 20000 --due 2000 --only sqlite

SQLite is always measured (in a temporary file); PostgreSQL too when ``DATABASE_URL`` is a
postgres URL. Every database is a throwaway one with its own name, created with
``setup_databases`` and dropped at the end (as ``bench_cleanup`` does).

Two child processes per database, so the memory figure is the sweep's own:

1. *populate* creates, with ``bulk_create``, N in-progress attachments of the seed's template,
   each with an approval flow whose current step (held by one user) has ``due_in`` one day,
   ``remind_before`` two hours and ``on_timeout`` escalate to the CFO. The first ``--due`` of
   them are past their due time (so both their reminder and their timeout are due); the others
   are due in three days (nothing to do);
2. *sweep* runs ``process_deadlines`` once with the real listeners (the channel-layer publish,
   stored actions, e-mails to the locmem backend), checks that exactly the due steps were
   reminded and escalated once, runs it again (nothing left: the idempotent case), then drops
   the database. Its peak resident set size (``resource.getrusage``, interpreter and Django
   included) is held against the 200 MB target; the time against "well under a minute".
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
TARGET_MB = 200
TARGET_SECONDS = 60
CHUNK = 2000


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _django(database_name: str | None) -> Any:
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings_test"
    import django

    django.setup()
    from django.db import connection

    if database_name is not None:
        connection.close()
        connection.settings_dict["NAME"] = database_name
    return connection


def populate(steps: int, due: int, test_db_name: str) -> dict[str, Any]:
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
    from backend.workflows.models import WorkflowAttachment
    from backend.workflows.selectors import ordered_stages

    started = time.perf_counter()
    register_demo_models()
    scenario = build_company("bench", display_name="Bench")
    workflow = scenario.workflow
    first = ordered_stages(workflow.pk)[0]
    holder, cfo = scenario.user("employee"), scenario.user("cfo")
    content_type = ContentType.objects.get_for_model(PurchaseRequest)
    now = timezone.now()
    for start in range(0, steps, CHUNK):
        size = min(CHUNK, steps - start)
        with transaction.atomic():
            requests = PurchaseRequest.objects.bulk_create(
                [
                    PurchaseRequest(
                        title=f"Request {start + index}",
                        amount=12500,
                        requester=scenario.user("requester"),
                    )
                    for index in range(size)
                ]
            )
            WorkflowAttachment.objects.bulk_create(
                [
                    WorkflowAttachment(
                        company=scenario.company,
                        content_type=content_type,
                        object_id=str(request.pk),
                        workflow=workflow,
                        status="in_progress",
                        current_stage=first,
                        current_pipeline=first.pipeline,
                        started_by=scenario.user("requester"),
                        started_at=now - timedelta(days=2),
                        last_step_number=1,
                    )
                    for request in requests
                ]
            )
            flows = ApprovalFlow.objects.bulk_create(
                [
                    ApprovalFlow(content_type=content_type, object_id=str(request.pk))
                    for request in requests
                ]
            )
            ApprovalInstance.objects.bulk_create(
                [
                    ApprovalInstance(
                        flow=flow,
                        step_number=1,
                        status="current",
                        assigned_to=holder,
                        sla_duration=timedelta(days=1),
                        due_date=now - timedelta(minutes=5)
                        if start + index < due
                        else now + timedelta(days=3),
                        timeout_action="escalate",
                        escalation_on_timeout=True,
                        extra_fields={
                            "stage_id": first.pk,
                            "approval_index": 0,
                            "behaviour": "approve",
                            "required_form": None,
                            "remind_before_seconds": 7200,
                            "on_timeout": {"action": "escalate", "user": cfo.pk},
                        },
                    )
                    for index, flow in enumerate(flows)
                ]
            )
    connection.close()
    return {
        "database_name": database_name,
        "vendor": connection.vendor,
        "populate_seconds": time.perf_counter() - started,
    }


def sweep(database_name: str, original_name: str) -> dict[str, Any]:
    connection = _django(database_name)
    from approval_workflow.models import ApprovalInstance

    from backend.workflows.models import WorkflowEvent
    from backend.workflows.services.deadlines import process_deadlines

    try:
        queries = 0

        def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        rss_before = _peak_rss_mb()
        started = time.perf_counter()
        with connection.execute_wrapper(counted):
            run = process_deadlines()
        seconds = time.perf_counter() - started
        peak = _peak_rss_mb()
        started = time.perf_counter()
        again = process_deadlines()
        second_seconds = time.perf_counter() - started
        events = dict(
            (kind, WorkflowEvent.objects.filter(event_type=kind).count())
            for kind in ("reminded", "escalated")
        )
        escalated_rows = ApprovalInstance.objects.filter(status="escalated").count()
    finally:
        connection.close()
        connection.creation.destroy_test_db(original_name, verbosity=0)
    return {
        "vendor": connection.vendor,
        "reminded": run.reminded_steps,
        "escalated": run.escalated,
        "failed": run.failed,
        "second_run": [again.reminded_steps, again.timed_out],
        "events": events,
        "escalated_rows": escalated_rows,
        "seconds": seconds,
        "second_seconds": second_seconds,
        "queries": queries,
        "peak_rss_mb": peak,
        "rss_before_mb": rss_before,
    }


def _child(arguments: list[str], database_url: str) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "tests.benchmarks.bench_deadlines", *arguments]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    sys.stderr.write(completed.stdout + completed.stderr)
    raise SystemExit(f"benchmark child {arguments[0]} for {database_url.split(':')[0]} failed")


def measure(database_url: str, steps: int, due: int, tmp: str) -> dict[str, Any]:
    name = f"bench_deadlines_{os.getpid()}"
    original = database_url.rsplit("/", 1)[-1]
    if database_url.startswith("sqlite"):
        name = str(Path(tmp) / f"{name}.sqlite3")
        original = f"{tmp}/unused.sqlite3"
    populated = _child(["--populate", str(steps), "--due", str(due), "--name", name], database_url)
    swept = _child(["--sweep", populated["database_name"], "--original", original], database_url)
    return {**populated, **swept}


def check(result: dict[str, Any], due: int) -> list[str]:
    """Return what went wrong (empty when exactly the due steps were reminded and escalated)."""
    problems = []
    if result["reminded"] != due or result["escalated"] != due:
        problems.append(f"reminded {result['reminded']}, escalated {result['escalated']}")
    if result["events"] != {"reminded": due, "escalated": due}:
        problems.append(f"events {result['events']}")
    if result["escalated_rows"] != due:
        problems.append(f"{result['escalated_rows']} escalated rows")
    if result["second_run"] != [0, 0]:
        problems.append(f"second run did {result['second_run']}")
    if result["failed"]:
        problems.append(f"failures {result['failed'][:3]}")
    return problems


def report(results: list[dict[str, Any]], steps: int, due: int) -> None:
    print(
        f"process_deadlines: {steps:,} open steps with a deadline, {due:,} past due "
        "(reminder and escalation due), the others due in three days."
    )
    header = [
        "database",
        "populate s",
        "sweep s",
        "queries",
        "due steps/s",
        "second run s",
        "peak RSS MB",
        "check",
    ]
    rows = []
    for result in results:
        problems = check(result, due)
        rows.append(
            [
                vendor_name(result["vendor"]),
                f"{result['populate_seconds']:.1f}",
                f"{result['seconds']:.2f}",
                f"{result['queries']:,}",
                f"{due / result['seconds']:,.0f}",
                f"{result['second_seconds']:.3f}",
                f"{result['peak_rss_mb']:.0f}",
                "ok" if not problems else "; ".join(problems),
            ]
        )
    print_table(header, rows)
    worst_mb = max(result["peak_rss_mb"] for result in results)
    worst_s = max(result["seconds"] for result in results)
    print(
        f"Slowest sweep {worst_s:.1f} s (target under {TARGET_SECONDS} s), peak RSS {worst_mb:.0f} MB"
        f" (target under {TARGET_MB} MB): "
        + ("within both." if worst_mb < TARGET_MB and worst_s < TARGET_SECONDS else "OVER.")
    )
    if any(check(result, due) for result in results):
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="open steps with a deadline")
    parser.add_argument("--due", type=int, default=1_000, help="of which past their due time")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="measure one backend")
    parser.add_argument("--populate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--sweep", help=argparse.SUPPRESS)
    parser.add_argument("--original", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))

    if args.populate is not None:
        print(RESULT_MARKER + json.dumps(populate(args.populate, args.due, args.name)))
        return
    if args.sweep is not None:
        print(RESULT_MARKER + json.dumps(sweep(args.sweep, args.original)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-deadlines-") as tmp:
        targets = database_targets(args.only, tmp)
        results = [measure(url, args.steps, args.due, tmp) for url in targets]
    report(results, args.steps, args.due)


if __name__ == "__main__":
    main()
