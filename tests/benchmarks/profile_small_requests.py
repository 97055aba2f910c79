"""Profile the small requests of ``bench_small_requests`` in-process: time, queries, thread hops.

Run from the project root (the file is not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.profile_small_requests
    .venv/bin/python -m tests.benchmarks.profile_small_requests --runs 300 --profile curl
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m tests.benchmarks.profile_small_requests

The benchmark's company and token are built in a throwaway database (committed, as a
server sees them), then each request is sent to ``backend.asgi:application`` as uvicorn
sends it (an ASGI call on one event loop, in this process), ``--runs`` times in turn. For
each request it prints the median wall-clock time, the queries it ran (on every thread),
its hops to a thread (``sync_to_async`` calls) and the threads it started, and the
median CPU time of the process (all threads) per request, which the load of other work
moves less than the wall-clock time. ``--profile``
adds a cProfile of one request kind, sorted by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import threading
import time
from typing import Any

from tests.benchmarks.bench_small_requests import INBOX, INBOX_CURL, INBOX_ITEMS, TYPENAME
from tests.benchmarks.child_database import setup_django, throwaway_database_name
from tests.benchmarks.report import print_table

CASES = {"typename": TYPENAME, "curl": INBOX_CURL, "inbox": INBOX}


class Counters:
    """Queries (every thread), ``sync_to_async`` hops and thread starts, while counting."""

    def __init__(self) -> None:
        self.queries = 0
        self.hops = 0
        self.threads = 0
        self.active = False
        self.statements: list[str] | None = None
        # While profiling: a profile of each sync_to_async call in its worker thread.
        self.thread_profiles: list[cProfile.Profile] | None = None

    def install(self) -> None:
        from asgiref.sync import SyncToAsync
        from django.db import connections
        from django.db.backends.signals import connection_created

        counters = self

        def count_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            if counters.active:
                counters.queries += 1
                if counters.statements is not None:
                    counters.statements.append(sql % tuple(repr(p) for p in params or ()))
            return execute(sql, params, many, context)

        def on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
            if count_query not in connection.execute_wrappers:
                connection.execute_wrappers.append(count_query)

        connection_created.connect(on_connection, weak=False)
        for connection in connections.all():
            on_connection(None, connection)

        original_call = SyncToAsync.__call__

        async def counted_call(self: Any, *args: Any, **kwargs: Any) -> Any:
            if counters.active:
                counters.hops += 1
                if counters.statements is not None:
                    name = getattr(self.func, "__qualname__", repr(self.func))
                    counters.statements.append(f"hop: {name}")
            return await original_call(self, *args, **kwargs)

        SyncToAsync.__call__ = counted_call  # type: ignore[method-assign]
        original_start = threading.Thread.start

        def counted_start(self: Any) -> None:
            if counters.active:
                counters.threads += 1
            original_start(self)

        threading.Thread.start = counted_start  # type: ignore[method-assign]
        original_handler = SyncToAsync.thread_handler

        def profiled_handler(self: Any, *args: Any, **kwargs: Any) -> Any:
            if counters.thread_profiles is None:
                return original_handler(self, *args, **kwargs)
            profile = cProfile.Profile()
            profile.enable()
            try:
                return original_handler(self, *args, **kwargs)
            finally:
                profile.disable()
                counters.thread_profiles.append(profile)

        SyncToAsync.thread_handler = profiled_handler  # type: ignore[method-assign]


async def _call(application: Any, body: bytes, token: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await application(scope, receive, send)
    return status, b"".join(chunks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", choices=sorted(CASES), help="cProfile one request kind")
    parser.add_argument(
        "--sql", action="store_true", help="print each request's statements and hops"
    )
    parser.add_argument("--lines", type=int, default=45, help="profile lines to print")
    args = parser.parse_args(argv)

    old_config = setup_django(throwaway_database_name("profile_small"))
    from django.db import connections
    from django.test.utils import teardown_databases

    from tests.benchmarks.bench_small_requests import _prepare

    try:
        token = _prepare()
        connections.close_all()
        from backend.asgi import application

        counters = Counters()
        counters.install()
        bodies = {name: json.dumps({"query": query}).encode() for name, query in CASES.items()}

        async def run() -> None:
            times: dict[str, list[float]] = {name: [] for name in CASES}
            cpu: dict[str, list[float]] = {name: [] for name in CASES}
            counts: dict[str, tuple[int, int, int]] = {}
            for name, body in bodies.items():  # warm up: compile, cache, connect
                for _ in range(5):
                    status, answer = await _call(application, body, token)
                    assert status == 200, answer
                    data = json.loads(answer)
                    assert "errors" not in data, answer
                    if name != "typename":
                        edges = data["data"]["myPendingApprovals"]["edges"]
                        assert len(edges) == INBOX_ITEMS, answer
            for _ in range(args.runs):
                for name, body in bodies.items():
                    counters.queries = counters.hops = counters.threads = 0
                    counters.active = True
                    started, cpu_started = time.perf_counter(), time.process_time()
                    await _call(application, body, token)
                    times[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - cpu_started)
                    counters.active = False
                    counts[name] = (counters.queries, counters.hops, counters.threads)
            rows = [
                (
                    name,
                    f"{statistics.median(times[name]) * 1000:.2f}",
                    f"{min(times[name]) * 1000:.2f}",
                    f"{statistics.median(cpu[name]) * 1000:.2f}",
                    *(str(c) for c in counts[name]),
                )
                for name in CASES
            ]
            print_table(
                (
                    "request",
                    "median ms",
                    "best ms",
                    "CPU ms",
                    "queries",
                    "thread hops",
                    "threads started",
                ),
                rows,
                text_columns=1,
            )
            if args.sql:
                for name, body in bodies.items():
                    counters.statements = []
                    counters.active = True
                    await _call(application, body, token)
                    counters.active = False
                    print(f"{name}:", *counters.statements, sep="\n  ")
                counters.statements = None
            if args.profile:
                profiler = cProfile.Profile()
                counters.thread_profiles = []
                for _ in range(args.runs):
                    profiler.enable()
                    await _call(application, bodies[args.profile], token)
                    profiler.disable()
                print("Event loop thread:")
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(args.lines)
                stats.sort_stats("tottime").print_stats(args.lines)
                print("Worker threads (sync_to_async calls):")
                thread_stats = pstats.Stats(counters.thread_profiles[0])
                for other in counters.thread_profiles[1:]:
                    thread_stats.add(other)
                thread_stats.sort_stats("cumulative").print_stats(args.lines)
                thread_stats.sort_stats("tottime").print_stats(args.lines)
                counters.thread_profiles = None

        asyncio.run(run())
    finally:
        connections.close_all()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
