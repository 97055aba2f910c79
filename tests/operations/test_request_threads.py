"""HTTP requests on pooled threads (backend/request_threads.py): one thread per request, reused."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from asgiref.sync import sync_to_async

from backend.request_threads import RequestThreads


class _Recorder:
    """An ASGI app whose requests note the thread of each of their two sync calls."""

    def __init__(self, *, overlap: int = 1) -> None:
        self.threads: list[tuple[int, int]] = []
        self.inside = asyncio.Barrier(overlap)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        first = await sync_to_async(threading.get_ident)()
        await self.inside.wait()  # the requests of one test overlap here
        second = await sync_to_async(threading.get_ident)()
        self.threads.append((first, second))


async def _request(application: Any) -> None:
    await application({"type": "http"}, None, None)


async def test_a_request_keeps_one_thread_and_the_next_reuses_it():
    recorder = _Recorder()
    application = RequestThreads(recorder)
    started = threading.active_count()

    await _request(application)
    after_first = threading.active_count()
    await _request(application)
    await _request(application)

    (first, second), *others = recorder.threads
    assert first == second != threading.get_ident()
    assert others == [(first, first), (first, first)]
    assert after_first == started + 1 and threading.active_count() == after_first


async def test_requests_at_once_get_threads_of_their_own():
    recorder = _Recorder(overlap=3)
    application = RequestThreads(recorder, keep_idle=2)

    await asyncio.gather(*(_request(application) for _ in range(3)))

    assert all(first == second for first, second in recorder.threads)
    assert len({first for first, _ in recorder.threads}) == 3
    assert len(application.idle) == 2  # the third one's thread ends


async def test_other_connections_pass_through():
    seen: list[str] = []

    async def websocket_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await RequestThreads(websocket_app)({"type": "websocket"}, None, None)

    assert seen == ["websocket"]


def test_the_server_application_runs_http_on_pooled_threads():
    from backend.asgi import application

    assert isinstance(application.application_mapping["http"], RequestThreads)
