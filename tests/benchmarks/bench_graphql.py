"""Benchmark the GraphQL API over real HTTP: SQL query count and median time per request.

Run from the project root (the file is not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.bench_graphql
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.benchmarks.bench_graphql
    .venv/bin/python -m tests.benchmarks.bench_graphql --runs 9 --only postgres --sizes 200x5x5
    .venv/bin/python -m tests.benchmarks.bench_graphql --only sqlite --sizes 200x5x5 --profile

SQLite is always measured (in a temporary file); PostgreSQL too when ``DATABASE_URL`` is a
postgres URL. Each backend runs in a child process with ``backend.settings_test`` and its own
throwaway database (``setup_databases`` with a unique test database name, dropped afterwards),
so neither the developer's database nor the ``test_*`` database of a concurrent pytest run is
touched. The child starts ``uvicorn`` in a subprocess on a free 127.0.0.1 port, serving
``backend.asgi:application`` against that same database, and talks to it with keep-alive
HTTP/1.1 and a bearer token, exactly as a client would. The server wraps the application in
a thin ASGI layer that counts the SQL statements of each request, on every thread's
connection, and returns the count in an ``x-sql-queries`` header (``counting_application``).

For every size (workflows x pipelines x stages; one approval per stage, alternating a user
approval and a role approval, each with a form) one company is built with the services:

- ``workflows``: the full nested query (pipelines, departments, stages, approvals with user,
  role and form, summary, counts) as the company's employee. ``workflows`` serves at most
  100 per page, so 200 workflows take two requests (``first: 100`` then ``after:`` the end
  cursor); their queries and times are added up and the ``pages`` column says so. Each size
  is measured cold (the first request after a change of one template row, which the
  structure cache of ``schema.execution.structure_cache`` must miss) and warm (the same
  request again, served from that cache). With ``--seed-bench FOLDER`` the replaced engine
  runs first (as in ``bench_compare``) and both are printed as ratios to its time.
- ``get_detailed_workflow_data(company_id=...)``: called in-process (no HTTP), if
  ``backend.workflows.services`` provides it; ``n/a`` otherwise.
- mutations, end to end over HTTP on the size's first workflow: ``attachWorkflow`` (clone and
  start; as the requester), then ``approveStage``, ``rejectStage``, ``delegateStage`` and
  ``requestResubmission`` (as the CFO, who approves every workflow's first stage), each on
  attachments of its own, returning the attachment's state as a client would ask for it.

Every request is sent once to warm up, then ``--runs`` times; the median is reported. The
fixed cost of a request (bearer token and company lookup) is measured with ``{ __typename }``
and printed beside the tables. For comparison: the replaced engine needed about 690 ms for
200x5x5 in plain Python. ``--profile`` runs the largest ``workflows`` query in-process under
pyinstrument (``pip install pyinstrument``) and prints where the time goes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from tests.benchmarks.child_database import (
    server_database_url,
    setup_django,
    start_uvicorn,
    stop_process,
    throwaway_database_name,
)
from tests.benchmarks.report import print_table, vendor_name
from tests.benchmarks.targets import database_targets

RESULT_MARKER = "BENCH-RESULT "
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SIZES = ("1x2x3", "10x3x4", "50x5x5", "200x5x5")
PAGE_SIZE = 100
REFERENCE_ENGINE_MS = 690

WORKFLOWS = """
query Workflows($after: String) {
  workflows(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id nameEn pipelinesCount totalStagesCount
      summary { totalPipelines totalStages totalApprovals
        pipelineBreakdown { pipelineName stagesCount approvalsCount } }
      pipelines { id nameEn department { name }
        stages { id nameEn color
          approvals { approvalType user { username } role { name } requiredForm { name } } } }
    } }
  }
}
"""

ATTACHMENT_FIELDS = """
  attachment { id status currentStage { nameEn } nextStage { nameEn }
    progress { percentage completedStages totalStages }
    currentApprovers { user { username } } availableActions
    events { totalCount } }
  error { code message field }
"""
ATTACH = (
    "mutation($objectId: ID!, $workflowId: ID!) { attachWorkflow(input: {model: "
    '"demo.purchaserequest", objectId: $objectId, workflowId: $workflowId}) {'
    + ATTACHMENT_FIELDS
    + "} }"
)
APPROVE = (
    "mutation($id: ID!, $form: JSON) { approveStage(input: {attachmentId: $id, formData: $form}) {"
    + ATTACHMENT_FIELDS
    + "} }"
)
REJECT = (
    'mutation($id: ID!) { rejectStage(input: {attachmentId: $id, reason: "Over budget"}) {'
    + ATTACHMENT_FIELDS
    + "} }"
)
DELEGATE = (
    "mutation($id: ID!, $to: ID!) { delegateStage(input: {attachmentId: $id, toUserId: $to, "
    'reason: "Away"}) {' + ATTACHMENT_FIELDS + "} }"
)
RESUBMIT = (
    "mutation($id: ID!, $stage: ID!) { requestResubmission(input: {attachmentId: $id, "
    'stageId: $stage, reason: "Add the quote"}) {' + ATTACHMENT_FIELDS + "} }"
)
FIRST_STAGE_FORM = {"budget_code": "BDG-1"}


# --------------------------------------------------------------------------- server side

_request_queries: ContextVar[list[str] | None] = ContextVar("bench_request_queries", default=None)


def _count_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    bucket = _request_queries.get()
    if bucket is not None:
        bucket.append(sql)
    return execute(sql, params, many, context)


def counting_application() -> Any:
    """Return ``backend.asgi:application`` with an ``x-sql-queries`` header on HTTP responses.

    The count covers every connection the request used: the wrapper is installed on each new
    connection, and asgiref carries the request's context into its worker threads.
    """
    from django.db.backends.signals import connection_created

    from backend.asgi import application

    def install(sender: Any, connection: Any, **kwargs: Any) -> None:
        if _count_query not in connection.execute_wrappers:
            connection.execute_wrappers.append(_count_query)

    connection_created.connect(install, weak=False, dispatch_uid="bench_graphql_count")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await application(scope, receive, send)
            return
        bucket: list[str] = []
        token = _request_queries.set(bucket)

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (b"x-sql-queries", str(len(bucket)).encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await application(scope, receive, counting_send)
        finally:
            _request_queries.reset(token)

    return app


class Server:
    """A uvicorn subprocess serving the counting application on a free local port."""

    def __init__(self, database_url: str) -> None:
        self.process, self.port = start_uvicorn(
            "tests.benchmarks.bench_graphql:counting_application",
            database_url,
            "--timeout-keep-alive",
            "600",
        )
        self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def post(
        self, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], int, float]:
        """POST a document; return the JSON body, the server's SQL count and the seconds taken."""
        body = json.dumps({"query": query, "variables": variables or {}})
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        started = time.perf_counter()
        self.http.request("POST", "/graphql", body=body, headers=headers)
        response = self.http.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        data = json.loads(payload)
        if response.status != 200 or data.get("errors"):
            raise SystemExit(f"GraphQL request failed ({response.status}): {payload[:2000]!r}")
        return data, int(response.getheader("x-sql-queries", "-1")), elapsed

    def stop(self) -> None:
        self.http.close()
        stop_process(self.process)


# --------------------------------------------------------------------------- child process


def _parse_size(size: str) -> tuple[int, int, int]:
    workflows, pipelines, stages = (int(part) for part in size.split("x"))
    return workflows, pipelines, stages


class Company:
    """A company with ``workflows`` templates of ``pipelines`` x ``stages``, built by the services."""

    def __init__(self, size: str) -> None:
        from backend.accounts.tokens import create_api_token
        from backend.demo.scenario import build_company
        from backend.workflows.services import create_workflow, delete_workflow

        workflows, pipelines, stages = _parse_size(size)
        slug = f"bench{size}"
        scenario = build_company(slug, display_name=f"Bench {size}")
        delete_workflow(workflow=scenario.workflow)  # only the sized templates are listed
        self.scenario = scenario
        departments = list(scenario.departments.values())
        roles = list(scenario.roles.values())
        forms = list(scenario.forms.values())

        def approval(number: int) -> dict[str, Any]:
            if number % 2 == 0:  # the CFO approves the first stage of every pipeline
                return {
                    "approval_type": "user",
                    "approval_user": scenario.user("cfo").pk,
                    "required_form": forms[0].pk,
                }
            return {
                "approval_type": "role",
                "user_role": roles[number % len(roles)].pk,
                "role_selection_strategy": "anyone",
                "required_form": forms[number % len(forms)].pk,
            }

        self.workflows = [
            create_workflow(
                company=scenario.company,
                name_en=f"Workflow {number:04}",
                created_by=scenario.company,
                pipelines=[
                    {
                        "name_en": f"Pipeline {p + 1}",
                        "department": departments[p % len(departments)],
                        "stages": [
                            {"name_en": f"Stage {p + 1}.{s + 1}", "approvals": [approval(s)]}
                            for s in range(stages)
                        ],
                    }
                    for p in range(pipelines)
                ],
            )
            for number in range(1, workflows + 1)
        ]
        self.tokens = {
            name: create_api_token(user=scenario.user(name), name="bench")[1]
            for name in ("employee", "requester", "cfo")
        }
        self.requests = 0

    def new_request(self) -> Any:
        from decimal import Decimal

        from backend.demo.models import PurchaseRequest

        self.requests += 1
        return PurchaseRequest.objects.create(
            title=f"Bench {self.requests}",
            amount=Decimal("2500.00"),
            requester=self.scenario.user("requester"),
        )

    def first_stage_id(self) -> int:
        from backend.workflows.selectors import ordered_stages

        return ordered_stages(self.workflows[0].pk)[0].pk


def _measure(runs: int, request: Any) -> dict[str, Any]:
    """Call ``request()`` (returning queries and seconds) once to warm up, then ``runs`` times."""
    request()
    counts, times = [], []
    for _ in range(runs):
        queries, seconds = request()
        counts.append(queries)
        times.append(seconds * 1000)
    return {
        "queries_min": min(counts),
        "queries_max": max(counts),
        "median_ms": statistics.median(times),
    }


def _workflows_pages(server: Server, token: str) -> tuple[int, float, int, int]:
    """Fetch every page of the nested ``workflows`` query; return queries, seconds, pages, stages."""
    after, queries, seconds, pages, stages = None, 0, 0.0, 0, 0
    while True:
        data, count, elapsed = server.post(token, WORKFLOWS, {"after": after})
        queries, seconds, pages = queries + count, seconds + elapsed, pages + 1
        connection = data["data"]["workflows"]
        stages += sum(edge["node"]["totalStagesCount"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            return queries, seconds, pages, stages
        after = connection["pageInfo"]["endCursor"]


def touch_templates(company: Company) -> None:
    """Change one template row without changing what it shows (the structure cache misses next)."""
    from django.db.models import F

    from backend.workflows.models import Workflow

    Workflow.objects.filter(pk=company.workflows[0].pk).update(name_en=F("name_en"))


def _detailed_data() -> Any:
    try:
        from backend.workflows.services import get_detailed_workflow_data
    except ImportError:
        return None
    return get_detailed_workflow_data


def measure_size(server: Server, size: str, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    company = Company(size)
    employee, requester, cfo = (company.tokens[n] for n in ("employee", "requester", "cfo"))
    result: dict[str, Any] = {"size": size}
    result["overhead"] = _measure(runs, lambda: server.post(employee, "{ __typename }")[1:])

    _, _, pages, stages = _workflows_pages(server, employee)
    expected = _parse_size(size)
    assert stages == expected[0] * expected[1] * expected[2], stages
    result["stages"] = stages
    result["pages"] = pages

    def cold() -> tuple[int, float]:
        # A change the structure cache must see (a no-op UPDATE of one template: the trigger
        # gives the company a new marker), made before the clock starts.
        touch_templates(company)
        return _workflows_pages(server, employee)[:2]

    # The first request after a change (cold), then the same request again (warm).
    result["workflows"] = _measure(runs, cold)
    result["workflows_warm"] = _measure(runs, lambda: _workflows_pages(server, employee)[:2])

    detailed = _detailed_data()
    if detailed is None:
        result["detailed"] = None
    else:
        company_id = company.scenario.company.pk

        def call_detailed() -> tuple[int, float]:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                detailed(company_id=company_id)
                elapsed = time.perf_counter() - started
            return len(captured.captured_queries), elapsed

        result["detailed"] = _measure(runs, call_detailed)

    # Mutations: attachWorkflow makes the attachments the decisions then run on.
    workflow_id = company.workflows[0].pk
    attachments: list[str] = []

    def attach() -> tuple[int, float]:
        request = company.new_request()
        data, count, elapsed = server.post(
            requester, ATTACH, {"objectId": request.pk, "workflowId": workflow_id}
        )
        payload = data["data"]["attachWorkflow"]
        assert payload["error"] is None, payload
        attachments.append(payload["attachment"]["id"])
        return count, elapsed

    result["attachWorkflow"] = _measure(4 * runs + 3, attach)
    employee_id = company.scenario.user("employee").pk
    first_stage = company.first_stage_id()
    decisions = [
        ("approveStage", APPROVE, lambda a: {"id": a, "form": FIRST_STAGE_FORM}),
        ("rejectStage", REJECT, lambda a: {"id": a}),
        ("delegateStage", DELEGATE, lambda a: {"id": a, "to": employee_id}),
        ("requestResubmission", RESUBMIT, lambda a: {"id": a, "stage": first_stage}),
    ]
    for name, document, variables in decisions:

        def decide(
            name: str = name, document: str = document, variables: Any = variables
        ) -> tuple[int, float]:
            data, count, elapsed = server.post(cfo, document, variables(attachments.pop()))
            payload = data["data"][name]
            assert payload["error"] is None, payload
            return count, elapsed

        result[name] = _measure(runs, decide)
    return result


def _profile(size: str) -> str:
    """Run the ``workflows`` query of ``size`` in-process under cProfile; return the top functions.

    cProfile counts calls, which load on the machine does not change; its own overhead inflates
    the many small calls, so read it for where the calls go, and time with the benchmark.
    """
    import asyncio
    import cProfile
    import io
    import pstats

    from django.test import AsyncClient, override_settings

    company = Company(size)
    client = AsyncClient()
    headers = {"Authorization": f"Bearer {company.tokens['employee']}"}

    async def fetch() -> None:
        response = await client.post(
            "/graphql", {"query": WORKFLOWS}, content_type="application/json", headers=headers
        )
        assert response.status_code == 200 and "errors" not in response.json()

    asyncio.run(fetch())
    profiler = cProfile.Profile()
    with override_settings(GRAPHQL_STRUCTURE_CACHE=False):  # the cold path, every time
        profiler.enable()
        asyncio.run(fetch())
        profiler.disable()
    report = io.StringIO()
    stats = pstats.Stats(profiler, stream=report)
    stats.sort_stats("tottime").print_stats(45)
    stats.sort_stats("cumulative").print_stats(60)
    return report.getvalue()


def run_child(sizes: list[str], runs: int, profile: bool) -> dict[str, Any]:
    old_config = setup_django(throwaway_database_name("bench_graphql"))
    from django.db import connection, connections
    from django.test.utils import teardown_databases

    from backend.demo.scenario import register_demo_models

    results: dict[str, Any] = {"vendor": connection.vendor, "sizes": []}
    server = None
    try:
        register_demo_models()
        if profile:
            results["profile"] = _profile(sizes[-1])
            return results
        server = Server(server_database_url())
        results["transport"] = f"uvicorn subprocess, http://127.0.0.1:{server.port}/graphql"
        for size in sizes:
            results["sizes"].append(measure_size(server, size, runs))
    finally:
        if server is not None:
            server.stop()
        connections.close_all()
        teardown_databases(old_config, verbosity=0)
    return results


# --------------------------------------------------------------------------- parent process


def _spawn(database_url: str, sizes: list[str], runs: int, profile: bool) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [
        sys.executable,
        "-m",
        "tests.benchmarks.bench_graphql",
        "--child",
        "--runs",
        str(runs),
        "--sizes",
        *sizes,
    ]
    if profile:
        command.append("--profile")
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    sys.stderr.write(completed.stdout + completed.stderr)
    raise SystemExit(f"benchmark child for {database_url.split(':')[0]} failed")


def _cell(measured: dict[str, Any] | None) -> list[str]:
    if measured is None:
        return ["n/a", "n/a"]
    low, high = measured["queries_min"], measured["queries_max"]
    return [str(low) if low == high else f"{low}-{high}", f"{measured['median_ms']:.1f}"]


def print_results(results: list[dict[str, Any]], runs: int) -> None:
    for result in results:
        vendor = vendor_name(result["vendor"])
        if "profile" in result:
            print(f"== {vendor}: profile of the workflows query, in-process\n{result['profile']}")
            continue
        overhead = result["sizes"][0]["overhead"]
        print(f"== {vendor}: median of {runs} runs after one warm-up; {result['transport']}")
        print(
            f"Fixed cost of any request ({{ __typename }}: bearer token + company lookup): "
            f"{_cell(overhead)[0]} queries, {overhead['median_ms']:.1f} ms. "
            f"Replaced engine, 200x5x5: ~{REFERENCE_ENGINE_MS} ms (reference, not measured)."
        )
        print(
            f"workflows: first: {PAGE_SIZE} per page; queries and times are summed over the pages. "
            "Cold: the first request after a change of a template (the structure cache misses); "
            "warm: the same request again (served from the cache)."
        )
        print_table(
            [
                "size (w x p x s)",
                "stages",
                "pages",
                "workflows SQL (cold)",
                "workflows ms (cold)",
                "SQL (warm)",
                "ms (warm)",
                "detailed_data SQL",
                "detailed_data ms",
            ],
            [
                [
                    s["size"],
                    str(s["stages"]),
                    str(s["pages"]),
                    *_cell(s["workflows"]),
                    *_cell(s.get("workflows_warm")),
                    *_cell(s["detailed"]),
                ]
                for s in result["sizes"]
            ],
        )
        print()
        mutations = [
            "attachWorkflow",
            "approveStage",
            "rejectStage",
            "delegateStage",
            "requestResubmission",
        ]
        header = ["mutation (first workflow of the size)"]
        for s in result["sizes"]:
            header += [f"{s['size']} SQL", "ms"]
        print_table(
            header, [[m, *[c for s in result["sizes"] for c in _cell(s[m])]] for m in mutations]
        )
        print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per request")
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="e.g. 50x5x5")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="measure one backend")
    parser.add_argument(
        "--profile", action="store_true", help="profile the last size's workflows query"
    )
    parser.add_argument(
        "--seed-bench",
        type=Path,
        help="also run the replaced engine from this folder (as bench_compare does) and print "
        "the structure's cold and warm ratios to it",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))
    for size in args.sizes:
        _parse_size(size)

    if args.child:
        result = run_child(args.sizes, args.runs, args.profile)
        print(RESULT_MARKER + json.dumps(result))
        return

    seed = None
    if args.seed_bench is not None and not args.profile:
        from tests.benchmarks.bench_compare import run_seed

        seed = run_seed(args.seed_bench, tuple(args.sizes))
    with tempfile.TemporaryDirectory(prefix="bench-graphql-") as tmp:
        targets = database_targets(args.only, tmp)
        results = [_spawn(url, args.sizes, args.runs, args.profile) for url in targets]
    print_results(results, args.runs)
    if seed is not None:
        print_structure_ratios(seed, results)


def print_structure_ratios(seed: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """Print the structure's cold and warm times as ratios to the replaced engine's (SQLite)."""
    rows = []
    for result in results:
        for s in result.get("sizes", []):
            theirs = seed.get(s["size"], {}).get("list_by_company")
            if theirs is None:
                continue
            for label, key in (("cold", "workflows"), ("warm", "workflows_warm")):
                mine = s[key]["median_ms"]
                rows.append(
                    [
                        f"{vendor_name(result['vendor'])} {s['size']}, {label}",
                        f"{theirs['ms']:.0f}",
                        f"{mine:.1f}",
                        f"{mine / theirs['ms']:.2f}x",
                    ]
                )
    print("Structure against the replaced engine (its SQLite run, same sitting):")
    print_table(["workflows query", "replaced engine ms", "WorkflowQL ms", "ratio"], rows)


if __name__ == "__main__":
    main()
