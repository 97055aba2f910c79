"""Benchmark live-update fan-out: time from a decision's commit to delivery on every subscriber.

Run from the project root (the file is not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.bench_fanout
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.benchmarks.bench_fanout
    .venv/bin/python -m tests.benchmarks.bench_fanout --sizes 1000 --only memory --profile

The database is the one ``DATABASE_URL`` names (SQLite when unset), but always a throwaway
copy: ``setup_databases`` with a unique test database name (a temporary SQLite file, or
``bench_fanout_<pid>`` on PostgreSQL), dropped at the end, so neither the developer's database
nor the ``test_*`` database of a concurrent pytest run is touched.

Two setups, each with servers started once (``uvicorn backend.asgi:application`` wrapped in a
thin benchmark layer, ``bench_application``; one worker each, with the deployed uvicorn options
of ``backend.serving``, on free 127.0.0.1 ports; settings ``tests.benchmarks.bench_settings``,
the test settings with 150 s instead of 10 s for a socket's ``connection_init``, so thousands
of sockets opening at once on a loaded machine are not closed with 4408 first):

- ``memory``: one process with the in-memory channel layer; subscribers on it, decisions POSTed
  to it.
- ``redis``: two processes sharing the Redis layer (``REDIS_URL`` or redis://127.0.0.1:6379,
  database 14, or a throwaway ``redis-server`` when none answers); subscribers on A,
  decisions POSTed to B.
- ``spread`` (only with ``--only spread``): the same two processes, with the subscribers
  spread evenly over A and B (each server's sockets held by its own client processes), and
  decisions POSTed to B: every event reaches B's subscribers through B's own listener and
  A's through Redis. For ten times the default scale::

      .venv/bin/python -m tests.benchmarks.bench_fanout --only spread --sizes 10000 --client-procs 4

"idle KiB/subscription" is the growth of each subscribers' server's resident memory (after a
full collection) from before the sockets open to when they are all subscribed and idle,
divided by its sockets. The soft open-file limit is raised to what the largest size needs
(servers and clients inherit it); the run stops early when the hard limit is lower.

For every size N (default 1, 100, 1000) N subscriber sockets (one ``attachmentEvents``
subscription each, all on one attachment) are opened by ``--client-procs`` client processes
(default 2). Each socket is a raw asyncio Protocol driven by websockets' sans-I/O client
(graphql-transport-ws, permessage-deflate negotiated as browsers do): while a decision fans
out it only appends ``(time.time(), bytes)`` per TCP read, and frames are parsed once the
reads stop, so the clients leave the CPU to the server (client and server share the same 2
cores). The benchmark waits until the server reports N local listeners of the attachment's
group, then POSTs the decisions one at a time (approveStage over HTTP with a bearer token)
as the attachment's current approver: reviewer, budget manager, CFO, two executives. Each
commits one or more events (approved, stage moved, pipeline moved, completed). For N=1,
four attachments (one subscription to each) give 20 decisions.

The server stamps ``time.time()`` in an event listener that runs right after the COMMIT
(before the broadcast) and returns it in an ``x-commit-at`` header. Latency of a subscriber
for a decision = arrival of the decision's *last* event - commit; "received" counts
subscriber x decision pairs that got every event of the decision. "server CPU ms/decision"
is the CPU time of the subscribers' server per decision (in the memory setup it includes
the decision's own HTTP request): unlike latencies it does not depend on what else runs on
the machine. ``--profile`` prints a cProfile (CPU time) of that server during the largest
size's decisions; ``BENCH_DEBUG=1`` lists the sockets that missed an event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from tests.benchmarks.child_database import setup_django
from tests.benchmarks.report import print_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "graphql-transport-ws"
REDIS_DB = 14
DEFAULT_SIZES = (1, 100, 1000)
# Bounds of one run: the machine is shared, and the load stays on 127.0.0.1.
MAX_SUBSCRIBERS = 20000
MAX_CLIENT_PROCESSES = 8
SUBSCRIPTION = """
subscription($id: ID!) { attachmentEvents(attachmentId: $id) {
  id type occurredAt reason actor { username displayName }
  fromStage { nameEn nameAr } toStage { nameEn nameAr } fromPipeline { nameEn } toPipeline { nameEn }
  attachment { id status currentStage { nameEn nameAr } currentPipeline { nameEn }
    progress { percentage completedStages totalStages } }
} }
"""
APPROVE = """
mutation($id: ID!, $form: JSON) { approveStage(input: {attachmentId: $id, formData: $form}) {
  attachment { id status } error { code message }
} }
"""
FORMS = (
    {"budget_code": "BDG-1"},
    {"allocated_budget": "5000"},
    {"finance_ref": "FIN-1"},
    None,
    None,
)

# --------------------------------------------------------------------------- server side

_commit_stamps: ContextVar[list[float] | None] = ContextVar("bench_commit_stamps", default=None)


def _stamp_commit(events: Any) -> None:
    stamps = _commit_stamps.get()
    if stamps is not None:
        stamps.append(time.time())


_profiler: Any = None
_gc_pauses: list[tuple[int, float]] = []  # (generation, ms) of the collections that took > 10 ms
_gc_started = 0.0


def _time_gc(phase: str, info: dict[str, Any]) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
    elif (ms := (time.perf_counter() - _gc_started) * 1000) > 10:
        _gc_pauses.append((info["generation"], round(ms, 1)))


def _resident_bytes() -> int:
    """Return this process's resident memory (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _bench_endpoint(path: str) -> Any:
    """``/__bench/group/<name>``: subscriptions of this process ready for the group's next
    message; ``/__bench/cpu``: CPU time and long garbage collections of this process;
    ``/__bench/profile/start|stop``: cProfile of this process (40 most expensive functions);
    ``/__bench/memory``: this process's resident memory after a full collection."""
    global _profiler
    if path.startswith("/__bench/group/"):
        # Subscriptions waiting for the group's next message: joined *and* done replaying the
        # audit trail (a subscription still replaying would receive the decision late).
        group = path.rsplit("/", 1)[1]
        try:
            from schema.execution import fanout
        except ImportError:  # a version without the shared listener: one member per subscription
            from tests.support.ws_helpers import group_size

            return {"size": await group_size(group)}
        hub = fanout._hubs.get(asyncio.get_running_loop())
        queues = hub.queues.get(group, ()) if hub is not None else ()
        # A listener (or, before listeners had sinks, a bare asyncio.Queue) waiting for a message.
        return {"size": sum(1 for q in queues if getattr(q, "queue", q)._getters)}
    if path == "/__bench/cpu":
        return {"cpu": time.process_time(), "gc": _gc_pauses}
    if path == "/__bench/memory":
        import gc

        gc.collect()
        return {"rss": _resident_bytes()}
    if path == "/__bench/profile/start":
        import cProfile

        _profiler = cProfile.Profile(time.process_time)  # CPU time: other processes do not count
        _profiler.enable()
        return {"profiling": True}
    if path == "/__bench/profile/stop" and _profiler is not None:
        import io
        import pstats

        _profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(_profiler, stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
        _profiler = None
        return {"report": out.getvalue()}
    return {"error": f"unknown {path}"}


def bench_application() -> Any:
    """``backend.asgi:application`` plus an ``x-commit-at`` header and ``GET /__bench/...``.

    The commit stamp comes from an event listener placed *before* the broadcast listener, so it
    is taken right after the COMMIT. ``/__bench/group/<name>`` returns how many subscriptions
    of this process wait for a group's next message, so the benchmark can wait until every
    subscription is live (graphql-transport-ws has no 'subscribed' ack).
    """
    from backend.asgi import application
    from backend.workflows import events

    events._listeners.insert(0, _stamp_commit)
    import gc

    gc.callbacks.append(_time_gc)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await application(scope, receive, send)
            return
        if scope["path"].startswith("/__bench/"):
            body = await _bench_endpoint(scope["path"])
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        stamps: list[float] = []
        token = _commit_stamps.set(stamps)

        async def stamping_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and stamps:
                headers = [*message.get("headers", []), (b"x-commit-at", repr(stamps[0]).encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await application(scope, receive, stamping_send)
        finally:
            _commit_stamps.reset(token)

    return app


# --------------------------------------------------------------------------- client processes


class RawSubscriber(asyncio.Protocol):
    """A websocket client reduced to what a benchmark needs: an asyncio Protocol that, while a
    decision fans out, only appends ``(time.time(), bytes)`` per TCP read. Frames are parsed
    afterwards with websockets' sans-I/O ``ClientProtocol`` (permessage-deflate negotiated,
    as browsers do); each frame gets the arrival time of the read that completed it."""

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop) -> None:
        from websockets.client import ClientProtocol
        from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
        from websockets.uri import parse_uri

        self.protocol = ClientProtocol(
            parse_uri(url),
            subprotocols=[PROTOCOL],
            extensions=[ClientPerMessageDeflateFactory()],
            max_size=None,
        )
        self.chunks: list[tuple[float, bytes]] = []
        self.parsed = 0
        self.frames: list[tuple[float, bytes]] = []
        self.buffering = False  # True while a decision fans out: no parsing, no writing
        self.opened = loop.create_future()
        self.acked = loop.create_future()
        self.transport: Any = None
        self.lost = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.chunks.append((time.time(), data))
        if not self.buffering:
            self.process()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.process()  # a close frame, if the server sent one, says why
        close = self.protocol.close_rcvd
        reason = f"closed by the server: {close}" if close is not None else repr(exc)
        for future in (self.opened, self.acked):
            if not future.done():
                future.set_exception(ConnectionError(f"connection lost: {reason}"))

    def process(self) -> None:
        """Parse the reads received so far (and answer pings)."""
        from websockets.frames import Opcode
        from websockets.http11 import Response

        for at, data in self.chunks[self.parsed :]:
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Response):
                    if not self.opened.done():
                        self.opened.set_result(event.status_code)
                elif event.opcode is Opcode.TEXT:
                    if not self.acked.done() and b'"connection_ack"' in event.data:
                        self.acked.set_result(True)
                    else:
                        self.frames.append((at, event.data))
        self.parsed = len(self.chunks)
        self.flush()

    def send_json(self, message: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self.flush()

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data and self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _clients(conn: Any, url: str, token: str, subscriptions: list[str], count: int) -> None:
    """Open ``count`` sockets, each subscribed to every attachment id; record frame arrivals."""
    from urllib.parse import urlsplit

    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    subscribers: list[RawSubscriber] = []
    limit = asyncio.Semaphore(50)

    async def open_one() -> RawSubscriber:
        async with limit:
            _, subscriber = await loop.create_connection(
                lambda: RawSubscriber(url, loop), parts.hostname, parts.port
            )
            status = await asyncio.wait_for(subscriber.opened, 30)
            assert status == 101, status
            subscriber.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            await asyncio.wait_for(subscriber.acked, 150)  # as the servers' init timeout
            for number, attachment_id in enumerate(subscriptions):
                subscriber.send_json(
                    {
                        "id": str(number),
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIPTION, "variables": {"id": attachment_id}},
                    }
                )
            return subscriber

    subscribers.extend(await asyncio.gather(*(open_one() for _ in range(count))))

    async def reconnect() -> None:
        """Open a socket again when the server closed it before the decisions (as graphql-ws
        clients do after a 1013 close: on a saturated machine a socket's channel-layer read
        can time out while thousands subscribe)."""
        while True:
            await asyncio.sleep(0.5)
            for index, subscriber in enumerate(subscribers):
                if subscriber.lost and not subscriber.frames:
                    closed = subscriber.protocol.close_rcvd
                    print(f"reopening a socket the server closed: {closed}", file=sys.stderr)
                    subscribers[index] = await open_one()

    reconnecting = asyncio.create_task(reconnect())
    conn.send(("ready", count))

    frames_expected = 0  # every socket gets the same frames
    while True:
        command, argument = await loop.run_in_executor(None, conn.recv)
        if command == "hold":  # a decision is about to fan out: only buffer
            reconnecting.cancel()  # the servers had every socket subscribed by now
            for subscriber in subscribers:
                subscriber.buffering = True
            conn.send(("holding", None))
        elif command == "expect":  # wait (bounded) until every socket has the decision's frames
            frames_expected += argument[0]
            deadline = time.monotonic() + argument[1]
            pending = subscribers
            while pending and time.monotonic() < deadline:
                # Parse only once the reads have stopped, so the server has the CPU meanwhile.
                received = sum(len(s.chunks) for s in pending)
                await asyncio.sleep(0.05)
                if sum(len(s.chunks) for s in pending) != received:
                    continue
                for subscriber in pending:
                    subscriber.process()
                pending = [s for s in pending if len(s.frames) < frames_expected]
            for subscriber in subscribers:
                subscriber.buffering = False
                subscriber.process()
            conn.send(("expected", count - len(pending)))
        elif command == "done":
            result = []
            for subscriber in subscribers:
                subscriber.process()
                subscriber.close()
                per_socket: dict[str, float] = {}
                errors = 0
                for at, raw in subscriber.frames:
                    message = json.loads(raw)
                    if message.get("type") == "next" and not message["payload"].get("errors"):
                        event_id = message["payload"]["data"]["attachmentEvents"]["id"]
                        per_socket.setdefault(event_id, at)
                    else:
                        errors += 1
                result.append((per_socket, errors))
            conn.send(("arrivals", result))
            return


def client_process(conn: Any, url: str, token: str, subscriptions: list[str], count: int) -> None:
    """Entry point of a client process (spawned; Django is never imported here)."""
    try:
        asyncio.run(_clients(conn, url, token, subscriptions, count))
    except BaseException as error:  # report instead of hanging the parent
        conn.send(("error", repr(error)))
        raise


class ClientFleet:
    """``processes`` client processes holding ``total`` subscriber sockets between them."""

    def __init__(
        self, url: str, token: str, subscriptions: list[str], total: int, processes: int
    ) -> None:
        context = multiprocessing.get_context("spawn")
        counts = [
            total // processes + (1 if i < total % processes else 0) for i in range(processes)
        ]
        self.pipes, self.processes = [], []
        for count in filter(None, counts):
            parent, child = context.Pipe()
            process = context.Process(
                target=client_process, args=(child, url, token, subscriptions, count)
            )
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def _replies(self, expected: str, timeout: float) -> list[Any]:
        replies = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise SystemExit(f"client process did not answer within {timeout}s")
            kind, value = pipe.recv()
            if kind != expected:
                raise SystemExit(f"client process failed: {kind} {value}")
            replies.append(value)
        return replies

    def wait_ready(self, timeout: float) -> None:
        self._replies("ready", timeout)

    def hold(self) -> None:
        for pipe in self.pipes:
            pipe.send(("hold", None))
        self._replies("holding", 30)

    def expect(self, events: int, timeout: float) -> int:
        for pipe in self.pipes:
            pipe.send(("expect", (events, timeout)))
        return sum(self._replies("expected", timeout + 30))

    def finish(self) -> list[tuple[dict[str, float], int]]:
        for pipe in self.pipes:
            pipe.send(("done", None))
        arrivals = [socket for reply in self._replies("arrivals", 120) for socket in reply]
        self.stop()
        return arrivals

    def stop(self) -> None:
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()


# --------------------------------------------------------------------------- benchmark process


class Scenario:
    """The seed's purchase workflow; attachments are created in-process (nothing is broadcast
    to the servers: this process has its own in-memory layer), decisions go over HTTP."""

    def __init__(self) -> None:
        from backend.accounts.tokens import create_api_token
        from backend.demo.scenario import build_company, register_demo_models

        register_demo_models()
        self.scenario = build_company("fanout", display_name="Fanout")
        self.tokens: dict[int, str] = {}
        for user in self.scenario.users.values():
            self.tokens[user.pk] = create_api_token(user=user, name="bench")[1]
        self.subscriber_token = self.tokens[self.scenario.user("employee").pk]
        self.requests = 0

    def new_attachment(self) -> int:
        from decimal import Decimal

        from backend.demo.models import PurchaseRequest
        from backend.workflows.services import attach_workflow_to_object

        self.requests += 1
        request = PurchaseRequest.objects.create(
            title=f"Fanout {self.requests}",
            # From 10,000 on the scenario runs Executive Approval too (a stage condition).
            amount=Decimal("25000.00"),
            requester=self.scenario.user("requester"),
        )
        attachment = attach_workflow_to_object(
            obj=request, workflow=self.scenario.workflow, user=self.scenario.user("requester")
        )
        return attachment.pk

    def approver_token(self, attachment_id: int) -> str:
        from approval_workflow.models import ApprovalInstance

        from backend.workflows.models import WorkflowAttachment

        attachment = WorkflowAttachment.objects.get(pk=attachment_id)
        holder = (
            ApprovalInstance.objects.filter(
                flow__content_type_id=attachment.content_type_id,
                flow__object_id=attachment.object_id,
                status="current",
            )
            .order_by("assigned_to__username")
            .values_list("assigned_to_id", flat=True)
            .first()
        )
        return self.tokens[holder]

    @staticmethod
    def last_event_id(attachment_id: int) -> int:
        from backend.workflows.models import WorkflowEvent

        return (
            WorkflowEvent.objects.filter(attachment_id=attachment_id)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
            or 0
        )

    @staticmethod
    def event_ids_after(attachment_id: int, after: int) -> list[str]:
        """The global ids (what ``attachmentEvents { id }`` sends) of the events after ``after``."""
        from backend.workflows.models import WorkflowEvent
        from schema.global_ids import global_id

        return [
            global_id("WorkflowEvent", pk)
            for pk in WorkflowEvent.objects.filter(attachment_id=attachment_id, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)
        ]


def _post_decision(url: str, token: str, attachment_id: int, form: Any) -> float:
    """POST approveStage; return the server's commit stamp."""
    body = json.dumps(
        {"query": APPROVE, "variables": {"id": str(attachment_id), "form": form}}
    ).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        data = json.loads(response.read())
        commit_at = response.headers.get("x-commit-at")
    payload = data.get("data", {}) and data["data"]["approveStage"]
    if data.get("errors") or not payload or payload["error"] is not None or commit_at is None:
        raise SystemExit(f"decision failed: {data}")
    return float(commit_at)


def _bench_get(server: Any, path: str) -> Any:
    with urllib.request.urlopen(
        f"http://127.0.0.1:{server.port}/__bench/{path}", timeout=30
    ) as response:
        return json.loads(response.read())


def _local_listeners(server: Any, group: str) -> int:
    return _bench_get(server, f"group/{group}")["size"]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def run_size(
    scenario: Scenario,
    subscribe_to: Any,
    decide_on: Any,
    size: int,
    client_procs: int,
    profile: bool = False,
) -> dict[str, Any]:
    """Subscribe ``size`` sockets (spread evenly when ``subscribe_to`` is a list of servers)."""
    from backend.workflows.broadcast import attachment_group

    servers = subscribe_to if isinstance(subscribe_to, list) else [subscribe_to]
    attachments = [scenario.new_attachment() for _ in range(4 if size == 1 else 1)]
    # Bounded waits, longer for more sockets (subscribing costs a few ms of server CPU each).
    open_timeout = 120 + size * 0.03
    shares = [
        size // len(servers) + (1 if i < size % len(servers) else 0) for i in range(len(servers))
    ]
    memory_before = [_bench_get(server, "memory")["rss"] for server in servers]
    started = time.monotonic()
    fleets = [
        ClientFleet(
            server.ws_url,
            scenario.subscriber_token,
            [str(a) for a in attachments],
            share,
            max(1, min(client_procs // len(servers), share)),
        )
        for server, share in zip(servers, shares, strict=True)
        if share
    ]
    try:
        for fleet in fleets:
            fleet.wait_ready(timeout=open_timeout)
        deadline = time.monotonic() + open_timeout
        for server, share in zip(servers, shares, strict=True):
            for attachment_id in attachments:
                while _local_listeners(server, attachment_group(attachment_id)) < share:
                    if time.monotonic() > deadline:
                        raise SystemExit(
                            f"subscribers did not join {attachment_group(attachment_id)}:\n"
                            f"{server.output()}"
                        )
                    time.sleep(0.05)
        setup_seconds = time.monotonic() - started
        time.sleep(1)  # idle: let the subscriptions settle before reading the memory
        memory_per_subscription = [
            (_bench_get(server, "memory")["rss"] - before) / share
            for server, share, before in zip(servers, shares, memory_before, strict=True)
            if share
        ]

        decisions = []
        if profile:
            _bench_get(servers[0], "profile/start")
        cpu_before = [_bench_get(server, "cpu") for server in servers]
        for attachment_id in attachments:
            for form in FORMS:
                after = scenario.last_event_id(attachment_id)
                token = scenario.approver_token(attachment_id)
                for fleet in fleets:
                    fleet.hold()
                commit_at = _post_decision(decide_on.http_url, token, attachment_id, form)
                ids = scenario.event_ids_after(attachment_id, after)
                for fleet in fleets:
                    fleet.expect(len(ids), timeout=10)
                decisions.append((commit_at, ids))
        cpu_after = [_bench_get(server, "cpu") for server in servers]
        cpu_ms = [
            (after["cpu"] - before["cpu"]) * 1000 / len(decisions)
            for before, after in zip(cpu_before, cpu_after, strict=True)
        ]
        gc_pauses = [
            pause
            for before, after in zip(cpu_before, cpu_after, strict=True)
            for pause in after["gc"][len(before["gc"]) :]
        ]
        if profile:
            print(f"--- profile of the subscribers' server, {size} subscribers ---")
            print(_bench_get(servers[0], "profile/stop")["report"], flush=True)
        arrivals = [socket for fleet in fleets for socket in fleet.finish()]
    finally:
        for fleet in fleets:
            fleet.stop()

    latencies, received, errors = [], 0, sum(e for _, e in arrivals)
    slowest = []
    for commit_at, ids in decisions:
        decision = []
        for per_socket, _ in arrivals:
            times = [per_socket.get(i) for i in ids]
            if all(t is not None for t in times):
                received += 1
                decision.append((max(times) - commit_at) * 1000)  # type: ignore[type-var]
        latencies += decision
        if os.environ.get("BENCH_DEBUG"):
            for index, (per_socket, _) in enumerate(arrivals):
                missing = [i for i in ids if i not in per_socket]
                if missing:
                    print(f"socket {index} missed {missing} of {ids}; has {sorted(per_socket)}")
        slowest.append(max(decision, default=float("nan")))
    return {
        "size": size,
        "decisions": len(decisions),
        "events": sum(len(ids) for _, ids in decisions),
        "expected": size * len(decisions),
        "received": received,
        "errors": errors,
        "setup_s": setup_seconds,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": _percentile(latencies, 0.99) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "slowest_per_decision": slowest,
        "cpu_ms": cpu_ms,
        "gc_pauses": gc_pauses,
        "memory_per_subscription": memory_per_subscription,
    }


def _database_url() -> str:
    from django.db import connection

    from tests.support.live_servers import database_url_of

    return database_url_of(connection.settings_dict)


def run(
    sizes: list[int], only: str | None, client_procs: int, profile: bool
) -> list[dict[str, Any]]:
    from tests.support.live_servers import redis_server, uvicorn_servers

    database_url = os.environ.get("DATABASE_URL", "")
    name = f"bench_fanout_{os.getpid()}"
    tmp = None
    if not database_url.startswith(("postgres://", "postgresql://")):
        tmp = tempfile.mkdtemp(prefix="bench-fanout-")
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/unused.sqlite3"  # never created
        name = f"{tmp}/{name}.sqlite3"
    os.environ.pop("REDIS_URL", None)  # this process's own publishes stay in its memory
    old_config = setup_django(name)
    from django.db import connection, connections
    from django.test.utils import teardown_databases

    results = []
    server_options = {
        "database_url": _database_url(),
        "app": "tests.benchmarks.bench_fanout:bench_application",
        "extra_args": ["--factory"],
        "extra_env": {"DJANGO_SETTINGS_MODULE": "tests.benchmarks.bench_settings"},
        "timeout": 60,
    }
    try:
        scenario = Scenario()
        vendor = connection.vendor
        if only in (None, "memory"):
            with uvicorn_servers(1, redis_url=None, **server_options) as (server,):
                run_size(scenario, server, server, 1, 1)  # warm-up, not reported
                for size in sizes:
                    row = run_size(
                        scenario, server, server, size, client_procs, profile and size == sizes[-1]
                    )
                    results.append({"setup": "one process, in-memory", "db": vendor, **row})
                    _print_row(results[-1])
        if only in (None, "redis"):
            with (
                redis_server(REDIS_DB) as redis_url,
                uvicorn_servers(2, redis_url=redis_url, **server_options) as (server_a, server_b),
            ):
                run_size(scenario, server_a, server_b, 1, 1)
                for size in sizes:
                    row = run_size(
                        scenario,
                        server_a,
                        server_b,
                        size,
                        client_procs,
                        profile and size == sizes[-1],
                    )
                    results.append(
                        {"setup": "two processes, Redis (sub A, decide B)", "db": vendor, **row}
                    )
                    _print_row(results[-1])
        if only == "spread":
            with (
                redis_server(REDIS_DB) as redis_url,
                uvicorn_servers(2, redis_url=redis_url, **server_options) as (server_a, server_b),
            ):
                run_size(scenario, [server_a, server_b], server_b, 2, 2)
                for size in sizes:
                    row = run_size(
                        scenario,
                        [server_a, server_b],
                        server_b,
                        size,
                        client_procs,
                        profile and size == sizes[-1],
                    )
                    results.append(
                        {"setup": "two processes, Redis (sub A + B, decide B)", "db": vendor, **row}
                    )
                    _print_row(results[-1])
    finally:
        connections.close_all()
        teardown_databases(old_config, verbosity=0)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


HEADER = [
    "setup",
    "db",
    "subscribers",
    "decisions",
    "events",
    "received",
    "p50 ms",
    "p99 ms",
    "max ms",
    "server CPU ms/decision",
    "subscribe all s",
    "idle KiB/subscription",
]


def _cells(r: dict[str, Any]) -> list[str]:
    return [
        r["setup"],
        r["db"],
        str(r["size"]),
        str(r["decisions"]),
        str(r["events"]),
        f"{r['received']}/{r['expected']}" + (f" ({r['errors']} errors)" if r["errors"] else ""),
        f"{r['p50']:.1f}",
        f"{r['p99']:.1f}",
        f"{r['max']:.1f}",
        " / ".join(f"{ms:.0f}" for ms in r["cpu_ms"]),
        f"{r['setup_s']:.1f}",
        " / ".join(f"{b / 1024:.0f}" for b in r["memory_per_subscription"]),
    ]


def _print_row(r: dict[str, Any]) -> None:
    slowest = ", ".join(f"{ms:.0f}" for ms in r["slowest_per_decision"])
    gc_pauses = ", ".join(f"gen{g} {ms:.0f} ms" for g, ms in r["gc_pauses"]) or "none"
    print(
        "  " + " | ".join(_cells(r)) + f" | last delivery per decision (ms): {slowest}"
        f" | garbage collections > 10 ms during the decisions: {gc_pauses}",
        flush=True,
    )


def print_results(results: list[dict[str, Any]]) -> None:
    print_table(HEADER, [_cells(r) for r in results], text_columns=2)


def _raise_open_file_limit(sockets: int) -> int:
    """Raise this process's soft open-file limit for ``sockets`` (servers and clients inherit it)."""
    import resource

    needed = sockets + 1000  # one process may hold every socket, plus its other files
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft < needed:
        raise SystemExit(f"the open-file limit is {soft}; {needed} are needed: raise `ulimit -Hn`")
    return soft


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument(
        "--only",
        choices=("memory", "redis", "spread"),
        help="one setup; 'spread' (never run by default) puts the subscribers on both processes",
    )
    parser.add_argument(
        "--client-procs", type=int, default=2, help="client processes holding the sockets"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the subscribers' server during the largest size's decisions",
    )
    args = parser.parse_args(argv)
    if max(args.sizes) > MAX_SUBSCRIBERS or args.client_procs > MAX_CLIENT_PROCESSES:
        raise SystemExit(
            f"at most {MAX_SUBSCRIBERS} subscribers and {MAX_CLIENT_PROCESSES} client processes"
        )
    open_files = _raise_open_file_limit(max(args.sizes))
    sys.path.insert(0, str(PROJECT_ROOT))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Fan-out: commit -> last event of the decision on every subscriber; "
        f"{args.client_procs} client process(es), {os.cpu_count()} CPUs shared with the servers "
        f"(load average before: {load}; open-file limit {open_files})."
    )
    results = run(args.sizes, args.only, args.client_procs, args.profile)
    print()
    print_results(results)


if __name__ == "__main__":
    main()
