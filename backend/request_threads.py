"""Long-lived threads for the synchronous work of HTTP requests under ASGI.

Django runs each ASGI request in an ``asgiref`` thread-sensitive context of its own: the
first ``sync_to_async`` call of the request (Django's request-started signal, on every
request) starts a new thread, and the request's end starts one more that joins it. Both
starts block the event loop until the new thread runs, which on a busy server (two cores,
ten concurrent clients) cost the small requests more than their own work.

``RequestThreads`` wraps the HTTP application: each request borrows a single-thread
executor from a pool (a new one when all are busy) and returns it when the request is
done. Inside a request nothing changes: its synchronous work runs in one thread, one call
at a time, exactly as in the thread Django would have started, which is also how a WSGI
server reuses its threads for request after request. Database connections stay per thread
and Django's request signals still close or return them at the end of each request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext

# Idle threads kept for the next requests; more are started while more requests run at
# once, and those beyond this number end once their request is done.
KEEP_IDLE = 32

Application = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class RequestThreads:
    """An ASGI application running ``application``'s HTTP requests on pooled threads."""

    def __init__(self, application: Application, *, keep_idle: int = KEEP_IDLE) -> None:
        self.application = application
        self.keep_idle = keep_idle
        self.idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.application(scope, receive, send)
            return
        executor = (
            self.idle.pop()
            if self.idle
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        )
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.application(scope, receive, send)
        finally:
            if len(self.idle) < self.keep_idle:
                self.idle.append(executor)
            else:
                # Ends its thread once idle, without blocking the event loop on a join.
                executor.shutdown(wait=False)
