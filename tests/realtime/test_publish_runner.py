"""Where a committed batch is sent: the server's loop in its sync workers, else this thread.

``publish_events`` runs the layer's coroutines with ``async_to_sync`` in a sync worker of an
ASGI server (the layer's queues and connections live in the server's loop); outside any loop
(a command, a WSGI worker, a test) it runs them in a new loop in the calling thread instead
of a new thread per call, and closes that loop afterwards.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from backend.workflows import broadcast


class RecordingLayer:
    def __init__(self) -> None:
        self.seen: list[tuple[int, asyncio.AbstractEventLoop, str]] = []

    async def group_send(self, group: str, message: dict) -> None:
        await asyncio.sleep(0)
        self.seen.append((threading.get_ident(), asyncio.get_running_loop(), group))


def test_outside_any_loop_the_batch_is_sent_in_this_thread_and_the_loop_is_closed():
    layer = RecordingLayer()
    threads_before = threading.active_count()

    broadcast._run_to_completion([("a", {"type": "x"}), ("b", {"type": "x"})], layer)

    assert [(ident, group) for ident, _, group in layer.seen] == [
        (threading.get_ident(), "a"),
        (threading.get_ident(), "b"),
    ]
    loops = {loop for _, loop, _ in layer.seen}
    assert len(loops) == 1 and loops.pop().is_closed()
    assert threading.active_count() == threads_before


def test_a_slow_layer_still_meets_the_one_deadline(monkeypatch):
    class Hung(RecordingLayer):
        async def group_send(self, group: str, message: dict) -> None:
            await asyncio.sleep(10)

    monkeypatch.setattr(broadcast, "PUBLISH_TIMEOUT_SECONDS", 0.05)
    with pytest.raises(TimeoutError):
        broadcast._run_to_completion([("a", {"type": "x"})], Hung())


async def test_in_a_sync_worker_of_a_running_loop_the_batch_goes_to_that_loop():
    layer = RecordingLayer()
    server_loop = asyncio.get_running_loop()

    await sync_to_async(broadcast._run_to_completion)([("a", {"type": "x"})], layer)

    assert [(loop, group) for _, loop, group in layer.seen] == [(server_loop, "a")]
