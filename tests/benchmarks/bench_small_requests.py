"""Benchmark small requests: requests per second with one uvicorn worker and 10 clients.

Run from the project root (the file is not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.bench_small_requests
    .venv/bin/python -m tests.benchmarks.bench_small_requests --seconds 10 --clients 10
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m tests.benchmarks.bench_small_requests --only postgres

SQLite is always measured (a temporary file); PostgreSQL too when ``DATABASE_URL`` is a
postgres URL. A child process per database builds the seed's Purchase Request company in a
throwaway test database, with three requests waiting in the budget manager's inbox, and
starts one uvicorn worker on a free 127.0.0.1 port serving ``backend.asgi:application``
(plus one bench-only URL, below). Then ``--clients`` keep-alive connections, driven by one
asyncio loop in this process, send requests back to back for ``--seconds`` per case and
the completed requests per second are counted. The cases take turns, in 5 rounds of a fifth
of ``--seconds`` each (after 0.3 s of warm-up), so a change of load weighs on all alike:

- ``{ __typename }`` with a bearer token: the fixed cost of any GraphQL request (token,
  company, context, parsing, execution, encoding);
- the README's two inbox queries, 3 items each, with the same token: the curl line (ids,
  stages, actions) and the nested ``query Inbox`` (approvers, progress, the last events);
- a bare Django JSON view on the same server (``/bench/bare``: an async view answering the
  same JSON as ``{ __typename }``, through the same middleware): the ceiling of a Django
  request on this server, which each GraphQL figure is compared with.

Every answer is checked (status 200, the expected body), so a fast error never counts. The
server and the clients share the machine's cores: compare figures of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
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
MODULE = "tests.benchmarks.bench_small_requests"
MAX_SECONDS = 60
MAX_CLIENTS = 64
ROUNDS = 5
WARM_UP_SECONDS = 0.3

TYPENAME = "{ __typename }"
INBOX = """
query Inbox {
  myPendingApprovals(first: 10) {
    totalCount
    edges {
      node {
        id
        status
        currentStage { id nameEn color }
        nextStage { nameEn }
        progress { percentage completedStages totalStages }
        currentApprovers { user { username } role { name } }
        availableActions
        target { display }
        events(first: 5) { nodes { type actor { username } reason occurredAt } }
      }
    }
  }
}
"""
# The first example of the README (its curl line): the inbox's ids, stages and actions.
INBOX_CURL = (
    "{ myPendingApprovals(first: 10) { totalCount edges { node { id currentStage { id nameEn } "
    "target { display } availableActions } } } }"
)
INBOX_ITEMS = 3


# --------------------------------------------------------------------------- server side


async def bare_json(request: Any) -> Any:
    """Answer what ``{ __typename }`` answers, without GraphQL, token or database."""
    from django.http import JsonResponse

    return JsonResponse({"data": {"__typename": "Query"}})


def _urlpatterns() -> list[Any]:
    from django.urls import path

    from backend.urls import urlpatterns

    return [path("bench/bare", bare_json), *urlpatterns]


urlpatterns: list[Any] = []


def application() -> Any:
    """Return ``backend.asgi:application`` with ``/bench/bare`` added (uvicorn ``--factory``)."""
    from django.conf import settings

    from backend.asgi import application as project_application

    global urlpatterns
    urlpatterns = _urlpatterns()
    settings.ROOT_URLCONF = MODULE
    return project_application


class Server:
    """One uvicorn worker in a subprocess on a free 127.0.0.1 port."""

    def __init__(self, database_url: str) -> None:
        self.process, self.port = start_uvicorn(
            f"{MODULE}:application", database_url, "--workers", "1"
        )

    def stop(self) -> None:
        stop_process(self.process)


# --------------------------------------------------------------------------- load


def _request_bytes(port: int, method: str, path: str, token: str | None, body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
    }
    if b"content-length" in headers:
        return status, await reader.readexactly(int(headers[b"content-length"]))
    body = b""
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def _client(
    port: int, request: bytes, check: Any, stop_at: float, warm_until: float, out: list[float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            writer.write(request)
            status, body = await _read_response(reader)
            if status != 200 or not check(body):
                raise SystemExit(f"unexpected answer ({status}): {body[:500]!r}")
            finished = time.perf_counter()
            if started >= warm_until and finished <= stop_at:
                out.append(finished - started)
    finally:
        writer.close()


async def _load(
    port: int, request: bytes, check: Any, clients: int, seconds: float, latencies: list[float]
) -> None:
    now = time.perf_counter()
    warm_until, stop_at = now + WARM_UP_SECONDS, now + WARM_UP_SECONDS + seconds
    await asyncio.gather(
        *(_client(port, request, check, stop_at, warm_until, latencies) for _ in range(clients))
    )


def _figures(latencies: list[float], seconds: float) -> dict[str, Any]:
    latencies = sorted(latencies)
    return {
        "requests_per_second": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "requests": len(latencies),
    }


def measure(port: int, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """Drive the three requests in turn; return their figures."""

    def graphql(query: str) -> bytes:
        body = json.dumps({"query": query}).encode()
        return _request_bytes(port, "POST", "/graphql", token, body)

    def typename_ok(body: bytes) -> bool:
        return json.loads(body) == {"data": {"__typename": "Query"}}

    def inbox_ok(body: bytes) -> bool:
        data = json.loads(body)
        return "errors" not in data and len(data["data"]["myPendingApprovals"]["edges"]) == (
            INBOX_ITEMS
        )

    cases = [
        ("bare Django JSON view (ceiling)", _request_bytes(port, "GET", "/bench/bare", None, b""),
         typename_ok),
        ("{ __typename }, bearer token", graphql(TYPENAME), typename_ok),
        ("README curl inbox (3 items), bearer token", graphql(INBOX_CURL), inbox_ok),
        ("README inbox query (3 items), bearer token", graphql(INBOX), inbox_ok),
    ]  # fmt: skip
    # The cases take turns, ROUNDS times, so a change of the machine's load meanwhile
    # weighs on all of them alike.
    latencies: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for _ in range(ROUNDS):
        for label, request, check in cases:
            asyncio.run(_load(port, request, check, clients, seconds / ROUNDS, latencies[label]))
    return {label: _figures(measured, seconds) for label, measured in latencies.items()}


# --------------------------------------------------------------------------- child process


def _prepare() -> str:
    """Build the company, put requests in the budget manager's inbox; return their token."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from backend.accounts.tokens import create_api_token
    from backend.demo.models import PurchaseRequest
    from backend.demo.scenario import build_company, register_demo_models
    from backend.workflows.services import approve_stage, attach_workflow_to_object
    from tests.support.helpers import approvers_of

    register_demo_models()
    scenario = build_company("bench", display_name="Bench")
    for number in range(INBOX_ITEMS):
        request = PurchaseRequest.objects.create(
            title=f"Laptops {number}",
            amount=Decimal("2500.00"),
            requester=scenario.user("requester"),
        )
        attachment = attach_workflow_to_object(
            obj=request, workflow=scenario.workflow, user=scenario.user("requester")
        )
        reviewer = get_user_model().objects.get(username=approvers_of(attachment)[0])
        approve_stage(obj=request, user=reviewer, form_data={"budget_code": "BDG-1"})
    return create_api_token(user=scenario.user("budget_manager1"), name="bench")[1]


def run_child(clients: int, seconds: float) -> dict[str, Any]:
    old_config = setup_django(throwaway_database_name("bench_small"))
    from django.db import connection, connections
    from django.test.utils import teardown_databases

    results: dict[str, Any] = {"vendor": connection.vendor}
    server = None
    try:
        token = _prepare()
        connections.close_all()
        server = Server(server_database_url())
        results["cases"] = measure(server.port, token, clients, seconds)
    finally:
        if server is not None:
            server.stop()
        connections.close_all()
        teardown_databases(old_config, verbosity=0)
    return results


# --------------------------------------------------------------------------- parent process


def _spawn(database_url: str, clients: int, seconds: float) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [
        sys.executable,
        "-m",
        "tests.benchmarks.bench_small_requests",
        "--child",
        "--clients",
        str(clients),
        "--seconds",
        str(seconds),
    ]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    sys.stderr.write(completed.stdout + completed.stderr)
    raise SystemExit(f"benchmark child for {database_url.split(':')[0]} failed")


def print_results(results: list[dict[str, Any]], clients: int, seconds: float) -> None:
    print(
        f"Small requests: one uvicorn worker, {clients} keep-alive clients, {seconds:g} s each "
        f"(in 5 rounds, taking turns), {os.cpu_count()} cores shared by server and clients."
    )
    rows = []
    for result in results:
        cases = result["cases"]
        ceiling = next(iter(cases.values()))["requests_per_second"]
        for label, figures in cases.items():
            rows.append(
                [
                    vendor_name(result["vendor"]),
                    label,
                    f"{figures['requests_per_second']:.0f}",
                    f"{figures['p50_ms']:.1f} / {figures['p99_ms']:.1f}",
                    f"{figures['requests_per_second'] / ceiling:.0%}",
                ]
            )
    print_table(
        ["database", "request", "requests/s", "latency p50 / p99 ms", "of the bare view"],
        rows,
        text_columns=2,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per case")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="measure one backend")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # Bounded: a mistyped argument must not flood the machine.
    args.clients = max(1, min(args.clients, MAX_CLIENTS))
    args.seconds = max(1.0, min(args.seconds, MAX_SECONDS))
    sys.path.insert(0, str(PROJECT_ROOT))

    if args.child:
        print(RESULT_MARKER + json.dumps(run_child(args.clients, args.seconds)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-small-") as tmp:
        targets = database_targets(args.only, tmp)
        results = [_spawn(url, args.clients, args.seconds) for url in targets]
    print_results(results, args.clients, args.seconds)


if __name__ == "__main__":
    main()
