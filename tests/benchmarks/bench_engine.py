"""Benchmark the engine's decisions: SQL query count and median time per operation.

Run from the project root (the file is not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.bench_engine
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.benchmarks.bench_engine
    .venv/bin/python -m tests.benchmarks.bench_engine --runs 30 --only sqlite --sql

SQLite is always measured (in a temporary file); PostgreSQL too when ``DATABASE_URL`` is a
postgres URL. Each backend runs in a child process with ``backend.settings_test`` and its own
throwaway database (``setup_databases`` with a unique test database name, dropped afterwards),
so the developer's database, and the ``test_*`` databases of a concurrent pytest run, are
never touched.

The scenario is the seed's Purchase Request workflow (``backend.demo.scenario.build_company``):
Initial Review [role, round robin] -> Budget Approval [role, anyone] -> Final Finance Sign-off
[user: CFO] | Executive Approval [role, consensus of 2]. For every run a new purchase request is
brought to the right position (not measured); then only the measured service call runs inside
``CaptureQueriesContext``. No test transaction is open, so every service opens its own real
transaction and the counts are what production sees (no savepoints; BEGIN and COMMIT are
counted). The actor is re-read before each run so per-request lookups (company membership)
are counted as a request would pay them.

The table splits each call in two: the engine's work up to and including its COMMIT, and the
event listeners that run after the commit within the same call (the GraphQL subscription
broadcast registered in ``WorkflowsConfig.ready``). ``--sql`` prints the statements of the
last run of each operation. Timings vary with machine load; compare runs made back to back.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.benchmarks.child_database import (
    setup_django,
    throwaway_database_name,
)
from tests.benchmarks.report import print_table, vendor_name
from tests.benchmarks.targets import database_targets

RESULT_MARKER = "BENCH-RESULT "
PROJECT_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- child process


class Bench:
    """The Purchase Request scenario plus helpers that bring a new request to a position."""

    def __init__(self) -> None:
        from backend.demo.scenario import build_company, register_demo_models

        register_demo_models()
        self.scenario = build_company("bench", display_name="Bench")
        self.workflow = self.scenario.workflow
        self.counter = 0

    # -- helpers (never measured)

    def user(self, name: str) -> Any:
        from django.contrib.auth import get_user_model

        # A fresh instance, like request.user: per-request caches start empty.
        return get_user_model().objects.get(pk=self.scenario.user(name).pk)

    def new_request(self) -> Any:
        from backend.demo.models import PurchaseRequest

        self.counter += 1
        return PurchaseRequest.objects.create(
            title=f"Bench {self.counter}",
            # From 10,000 on the scenario runs Executive Approval too (a stage condition).
            amount=Decimal("25000.00"),
            requester=self.scenario.user("requester"),
        )

    def reload(self, request: Any) -> Any:
        return type(request).objects.get(pk=request.pk)

    def holders(self, request: Any) -> list[Any]:
        """Return the users holding a current step of ``request`` (fresh instances)."""
        from approval_workflow.models import ApprovalInstance
        from django.contrib.auth import get_user_model
        from django.contrib.contenttypes.models import ContentType

        ids = ApprovalInstance.objects.filter(
            flow__content_type=ContentType.objects.get_for_model(request),
            flow__object_id=str(request.pk),
            status="current",
        ).values_list("assigned_to_id", flat=True)
        return list(get_user_model().objects.filter(pk__in=list(ids)).order_by("username"))

    FORMS = (
        {"budget_code": "BDG-1"},
        {"allocated_budget": "5000"},
        {"finance_ref": "FIN-1"},
        None,
    )

    def started(self, stages_done: int = 0) -> Any:
        """Return a new request attached and started, with ``stages_done`` stages approved."""
        from backend.workflows.services import approve_stage, attach_workflow_to_object

        request = self.new_request()
        attach_workflow_to_object(obj=request, workflow=self.workflow, user=self.user("requester"))
        for index in range(stages_done):
            approve_stage(obj=request, user=self.holders(request)[0], form_data=self.FORMS[index])
        return self.reload(request)

    # -- operations: each returns (prepared state, measured callable)

    def op_attach_start(self) -> Callable[[], Any]:
        from backend.workflows.services import attach_workflow_to_object

        request, user = self.new_request(), self.user("requester")
        return lambda: attach_workflow_to_object(obj=request, workflow=self.workflow, user=user)

    def op_approve_stage_move(self) -> Callable[[], Any]:
        from backend.workflows.services import approve_stage

        request = self.started(0)
        user = self.holders(request)[0]
        return lambda: approve_stage(obj=request, user=user, form_data=self.FORMS[0])

    def op_approve_pipeline_move(self) -> Callable[[], Any]:
        from backend.workflows.services import approve_stage

        request = self.started(2)
        user = self.user("cfo")
        return lambda: approve_stage(obj=request, user=user, form_data=self.FORMS[2])

    def op_approve_consensus_share(self) -> Callable[[], Any]:
        from backend.workflows.services import approve_stage

        request = self.started(3)
        user = self.user("executive1")
        return lambda: approve_stage(obj=request, user=user)

    def op_approve_final(self) -> Callable[[], Any]:
        from backend.workflows.services import approve_stage

        request = self.started(3)
        approve_stage(obj=request, user=self.user("executive1"))
        request, user = self.reload(request), self.user("executive2")
        return lambda: approve_stage(obj=request, user=user)

    def op_reject(self) -> Callable[[], Any]:
        from backend.workflows.services import reject_stage

        request = self.started(1)
        user = self.user("budget_manager1")
        return lambda: reject_stage(obj=request, user=user, reason="Over budget")

    def op_delegate(self) -> Callable[[], Any]:
        from backend.workflows.services import delegate_stage

        request = self.started(0)
        user = self.holders(request)[0]
        other = next(
            self.user(name)
            for name in ("finance_reviewer1", "finance_reviewer2")
            if self.scenario.user(name).pk != user.pk
        )
        return lambda: delegate_stage(obj=request, user=user, to_user=other.pk, reason="Away")

    def op_resubmission(self) -> Callable[[], Any]:
        from backend.workflows.selectors import get_workflow_attachment, ordered_stages
        from backend.workflows.services import request_resubmission

        request = self.started(1)
        first_stage = ordered_stages(get_workflow_attachment(request).workflow_id)[0]
        user = self.user("budget_manager1")
        return lambda: request_resubmission(
            obj=request, user=user, stage=first_stage.pk, reason="Add the quote"
        )


OPERATIONS: list[tuple[str, str]] = [
    ("attach+start (clone 2 pipelines / 4 stages)", "op_attach_start"),
    ("approve, stage move (round robin -> next)", "op_approve_stage_move"),
    ("approve, pipeline move (CFO -> Executive)", "op_approve_pipeline_move"),
    ("approve, consensus share (no move)", "op_approve_consensus_share"),
    ("approve, final (completion)", "op_approve_final"),
    ("reject (Budget Approval, anyone)", "op_reject"),
    ("delegate (Initial Review)", "op_delegate"),
    ("request_resubmission (Budget -> Initial)", "op_resubmission"),
]


class AfterCommitProbe:
    """Note when the committed events are handed to the listeners (``events.notify_listeners``).

    Everything a service does up to and including its COMMIT is the engine's; the listeners
    registered by the composition root (the GraphQL subscription broadcast) run afterwards,
    still inside the call. The probe wraps ``notify_listeners`` (looked up at call time by
    ``save_events``' on-commit hook) to split queries and time between the two.
    """

    def __init__(self, connection: Any) -> None:
        from backend.workflows import events

        self.connection = connection
        self.events = events
        self.original = events.notify_listeners
        self.mark: tuple[float, int] | None = None

    def __enter__(self) -> AfterCommitProbe:
        def probe(committed: Any) -> None:
            if self.mark is None:
                self.mark = (time.perf_counter(), len(self.connection.queries_log))
            self.original(committed)

        self.events.notify_listeners = probe
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.events.notify_listeners = self.original


def run_child(runs: int, show_sql: bool) -> dict[str, Any]:
    old_config = setup_django(throwaway_database_name("bench_workflowql"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, teardown_databases

    results: dict[str, Any] = {"vendor": connection.vendor, "operations": []}
    try:
        bench = Bench()
        for label, method in OPERATIONS:
            engine_q, engine_ms, after_q, after_ms, sql = [], [], [], [], []
            for run in range(runs + 1):  # run 0 warms caches and is discarded
                action = getattr(bench, method)()
                with (
                    AfterCommitProbe(connection) as probe,
                    CaptureQueriesContext(connection) as captured,
                ):
                    started = time.perf_counter()
                    action()
                    finished = time.perf_counter()
                total = len(captured.captured_queries)
                if probe.mark is None:  # nothing was published
                    committed_at, in_transaction = finished, total
                else:
                    committed_at = probe.mark[0]
                    in_transaction = probe.mark[1] - captured.initial_queries
                if run:
                    engine_q.append(in_transaction)
                    engine_ms.append((committed_at - started) * 1000)
                    after_q.append(total - in_transaction)
                    after_ms.append((finished - committed_at) * 1000)
                    sql = [q["sql"] for q in captured.captured_queries]
            results["operations"].append(
                {
                    "label": label,
                    "queries": [min(engine_q), max(engine_q)],
                    "median_ms": statistics.median(engine_ms),
                    "after_commit_queries": [min(after_q), max(after_q)],
                    "after_commit_median_ms": statistics.median(after_ms),
                    "sql": sql if show_sql else [],
                    "sql_in_transaction": in_transaction,
                }
            )
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)
    return results


# --------------------------------------------------------------------------- parent process


def _spawn(database_url: str, runs: int, show_sql: bool) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [
        sys.executable,
        "-m",
        "tests.benchmarks.bench_engine",
        "--child",
        "--runs",
        str(runs),
    ]
    if show_sql:
        command.append("--sql")
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    sys.stderr.write(completed.stdout + completed.stderr)
    raise SystemExit(f"benchmark child for {database_url.split(':')[0]} failed")


def _range(values: list[int]) -> str:
    low, high = values
    return str(low) if low == high else f"{low}-{high}"


def print_results(results: list[dict[str, Any]], runs: int) -> None:
    header = ["operation"]
    for result in results:
        name = vendor_name(result["vendor"])
        header += [f"{name} queries", "median ms", "+after commit q", "+ms"]
    rows = []
    for index, (label, _) in enumerate(OPERATIONS):
        row = [label]
        for result in results:
            op = result["operations"][index]
            row += [
                _range(op["queries"]),
                f"{op['median_ms']:.1f}",
                _range(op["after_commit_queries"]),
                f"{op['after_commit_median_ms']:.1f}",
            ]
        rows.append(row)
    print(f"Engine benchmark: median of {runs} runs per operation (after one warm-up run).")
    print("queries / median ms: the service call up to and including its COMMIT;")
    print("+after commit: the event listeners run by the same call once committed (broadcast).")
    print_table(header, rows)
    for result in results:
        for op in result["operations"]:
            if op["sql"]:
                print(
                    f"\n-- {vendor_name(result['vendor'])}: {op['label']} "
                    f"({op['sql_in_transaction']} in the transaction, "
                    f"{len(op['sql']) - op['sql_in_transaction']} after commit)"
                )
                for number, statement in enumerate(op["sql"], 1):
                    print(f"{number:3}. {statement}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="measured runs per operation")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="measure one backend")
    parser.add_argument("--sql", action="store_true", help="print the SQL of each operation")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))

    if args.child:
        result = run_child(args.runs, args.sql)
        print(RESULT_MARKER + json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="bench-workflowql-") as tmp:
        targets = database_targets(args.only, tmp)
        results = [_spawn(url, args.runs, args.sql) for url in targets]
    print_results(results, args.runs)


if __name__ == "__main__":
    main()
