"""One channel-layer listener per process, shared by every local subscription of a group.

Through ``consumer.listen_to_channel`` every subscription joins the group with its own
channel: a group_send to an attachment watched by 1,000 sockets of one process becomes
1,000 channel-layer messages (1,000 Redis list entries popped and decoded one by one, or
1,000 in-memory queue puts), each dispatched through its consumer. Here each process (event
loop) has one channel, joined once to every group it has local subscribers for; a message
is received once and put into the asyncio queue of every local subscription of its group.

Guarantees kept from ``listen_to_channel``: ``listen(group)`` returns only after the group
is joined (so a subscription can read the audit trail afterwards without a gap), and
messages of a group reach a subscription in the order the process received them. Group
membership is refreshed periodically (channel layers expire it after ``group_expiry``,
one day by default, which would silently end long-lived subscriptions).

Waking every subscription's task for every event costs more than the frame it sends (a
task switch and five nested async generators per socket). So a subscription may give its
``Listener`` a *sink*: while the subscription waits for its next message with nothing
queued, the listener task offers each message to the sink first, and the sink handles it
on the spot (for a shared event: writes the frame straight to the socket). A message the
sink declines, or one that arrives while the subscription is busy or has messages queued,
goes to its queue as before, so each subscription still sees its messages in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 3600.0
RETRY_SECONDS = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Sink:
    """What a subscription lets the listener task do with its messages.

    ``offer(message)``: True when it handled the message (sent it, or nothing to send), False
    when the subscription must take it from its queue, None when ``prepare(message)`` must
    run first (e.g. render a shared event no subscriber has rendered yet). ``offer`` runs
    for every socket and event, so it does not await.
    """

    offer: Callable[[dict[str, Any]], bool | None]
    prepare: Callable[[dict[str, Any]], Awaitable[None]]


class Listener:
    """One subscription's membership of a group: its message queue and an optional sink.

    Awaiting ``listener()`` returns the next message (as ``asyncio.Queue.get``).
    """

    __slots__ = ("queue", "sink", "waiting")

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.sink: Sink | None = None
        self.waiting = False  # True while the subscription awaits a message, none queued

    async def __call__(self) -> Any:
        if not self.queue.empty():
            return self.queue.get_nowait()
        self.waiting = True
        try:
            return await self.queue.get()
        finally:
            self.waiting = False

    def idle(self) -> bool:
        """True when a message handled now cannot overtake one the subscription holds."""
        return self.waiting and self.queue.empty()


class _Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.queues: dict[str, set[Listener]] = {}
        self.lock = asyncio.Lock()
        self.tasks: list[asyncio.Task] = []

    async def add(self, group: str, queue: Listener) -> None:
        async with self.lock:
            if self.channel is None:
                # The default prefix: channels-redis reads every local channel of a process
                # through one shared receive loop, which assumes they all share it.
                self.channel = await self.layer.new_channel()
            members = self.queues.get(group)
            if members is None:
                await self.layer.group_add(group, self.channel)
                members = self.queues[group] = set()
            members.add(queue)
            if not self.tasks:
                loop = asyncio.get_running_loop()
                self.tasks = [loop.create_task(self._receive()), loop.create_task(self._refresh())]

    async def discard(self, group: str, queue: Listener) -> None:
        async with self.lock:
            members = self.queues.get(group)
            if members is None:
                return
            members.discard(queue)
            if members:
                return
            del self.queues[group]
            with contextlib.suppress(Exception):
                await self.layer.group_discard(group, self.channel)
            if not self.queues:  # idle: stop listening (a later subscription starts again)
                for task in self.tasks:
                    task.cancel()
                self.tasks = []

    async def dispatch(self, message: dict[str, Any]) -> None:
        for group in _groups_of(message):
            offered = []
            for listener in tuple(self.queues.get(group, ())):
                if listener.sink is not None and listener.idle():
                    offered.append(listener)
                else:
                    listener.queue.put_nowait(message)
            for listener in offered:
                sink = listener.sink
                handled: bool | None = False
                if sink is not None and listener.idle():
                    try:
                        handled = sink.offer(message)
                        if handled is None:
                            await sink.prepare(message)
                            if listener.sink is sink and listener.idle():
                                handled = sink.offer(message)
                    except Exception:  # the subscription handles it, and reports what fails
                        logger.exception("A subscription's sink failed; queueing the message")
                        handled = False
                if not handled:
                    listener.queue.put_nowait(message)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Subscribers miss what is sent meanwhile; the next event of an attachment
                # carries previous_id, so they read the gap from the audit trail.
                logger.exception("Receiving workflow events failed; retrying")
                await asyncio.sleep(RETRY_SECONDS)
                continue
            try:
                await self.dispatch(message)
            except Exception:  # a malformed message must not stop the listener
                logger.exception("Dispatching a workflow event failed: %r", message)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            async with self.lock:
                for group in list(self.queues):
                    try:
                        await self.layer.group_add(group, self.channel)
                    except Exception:
                        logger.exception("Refreshing the membership of %s failed", group)


def _groups_of(message: dict[str, Any]) -> tuple[str, ...]:
    group = message.get("group")
    if group is not None:
        return (group,)
    # A publisher that does not name the group: derive every group the event goes to (the
    # subscription drops the duplicates by event id).
    from backend.workflows.broadcast import attachment_group, workflow_group

    event = message.get("event") or {}
    groups = [attachment_group(event["attachment_id"])] if "attachment_id" in event else []
    groups += [workflow_group(w) for w in event.get("workflow_ids", ())]
    return tuple(groups)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _hub() -> _Hub:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("Live updates need a channel layer (CHANNEL_LAYERS).")
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or (hub.layer is not layer and not hub.queues):
        hub = _hubs[loop] = _Hub(layer)
    return hub


@contextlib.asynccontextmanager
async def listen(group: str) -> AsyncIterator[Listener]:
    """Join ``group`` (through this process's listener); yield its ``Listener``: awaiting
    ``listener()`` returns the next message. Leaving the block leaves the group."""
    hub = _hub()
    listener = Listener()
    await hub.add(group, listener)
    try:
        yield listener
    finally:
        listener.sink = None
        await asyncio.shield(hub.discard(group, listener))


def local_listeners(group: str) -> int:
    """How many subscriptions of this process (event loop) listen to ``group``."""
    hub = _hubs.get(asyncio.get_running_loop())
    return len(hub.queues.get(group, ())) if hub is not None else 0
