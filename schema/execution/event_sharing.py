"""Render a pushed subscription event once per document, not once per subscriber.

graphql-core executes a subscription's selection set for every event and every subscriber,
and strawberry then runs its extensions and encodes the JSON frame, again per subscriber.
When 1,000 people watch one attachment that is 1,000 times the same work per event. Here:

- ``SharedEventExecutionContext`` (the schema's execution context class) keeps the result
  of a *shared* event in a small per-process cache. An event is shared when the subscription
  marks it with ``share(event, key)``: pushed events carry their own snapshot and render the
  same for every viewer of the company (the key holds the event id and the company).
- The cache key also holds the document text, the operation name and the variables the
  selection set uses. Variables used only by the root field's arguments (``attachmentId``,
  ``since``) pick the stream but do not change how an event renders, so they are left out.
- Concurrent subscribers of one event wait for the first execution (a future per key).
  Results with errors are never shared.
- ``FastPath`` lets a subscription send a shared event's frame itself, from its own
  operation task: the frame is the cached result encoded once, with the operation id spliced
  in, byte for byte what strawberry would send, without strawberry's per-result pipeline.
  The first subscriber of an event (per document) still goes through strawberry and fills
  the cache; replayed events (read from the database) always do.
- ``FastPath.write_rendered`` / ``render`` serve the process's listener task
  (``schema.execution.fanout`` sinks): it renders a pushed event once with a subscription's
  own execution context and writes the frame to every idle subscriber's socket
  (``schema.execution.socket_writer``), without waking their tasks.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from contextvars import ContextVar
from inspect import isawaitable
from typing import Any, cast

from graphql import ExecutionResult, FieldNode, VariableNode, Visitor, visit
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from schema.execution.socket_writer import SocketWriter, text_frame

SHARED_RESULTS_MAX = 512
SHARE_KEY_ATTRIBUTE = "share_key"

# key -> ExecutionResult, or a Future while the first subscriber executes it
_results: OrderedDict[tuple, Any] = OrderedDict()
# id(result) -> (result, JSON of result.data); the result is kept so its id stays unique
_encoded: OrderedDict[int, tuple[Any, str]] = OrderedDict()
# (share key, document key) of events whose rendering failed: not rendered again per socket
_unshareable: OrderedDict[tuple, None] = OrderedDict()
# (id(result), frame prefix) -> (result, the WebSocket frame); most operation ids repeat
_frames: OrderedDict[tuple[int, str], tuple[Any, bytes]] = OrderedDict()
_rendering_variables: OrderedDict[tuple[str, str | None], tuple[str, ...]] = OrderedDict()

# The graphql-transport-ws operation whose task is running (set by the consumer's handler).
current_operation: ContextVar[Any] = ContextVar("current_operation", default=None)
# The execution context graphql-core built last in this task: a subscription's own, when its
# resolver starts (``FastPath.of`` reads it to render shared events outside the task).
_built_context: ContextVar[Any] = ContextVar("built_execution_context", default=None)


def share(event: Any, key: tuple) -> Any:
    """Mark ``event`` (a subscription payload) as rendering the same for every subscriber."""
    setattr(event, SHARE_KEY_ATTRIBUTE, key)
    return event


def clear_shared_results() -> None:
    _results.clear()
    _encoded.clear()
    _frames.clear()
    _unshareable.clear()


def _bounded_put(cache: OrderedDict, key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > SHARED_RESULTS_MAX:
        cache.popitem(last=False)


class _VariableCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


def _variables_outside_root_arguments(operation: Any, fragments: dict[str, Any]) -> set[str]:
    """Names of the variables used anywhere but in the arguments of the root fields."""
    collector = _VariableCollector()
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            for directive in selection.directives or ():
                visit(directive, collector)
            if selection.selection_set is not None:
                visit(selection.selection_set, collector)
        else:  # a fragment at the root: be conservative
            visit(selection, collector)
    for fragment in fragments.values():
        visit(fragment, collector)
    return collector.names


def document_key(
    operation: Any, fragments: dict[str, Any], variables: dict[str, Any]
) -> tuple | None:
    """What, besides the event, decides how a subscription renders it (None: do not share)."""
    if operation.loc is None:
        return None
    name = operation.name.value if operation.name else None
    document = (operation.loc.source.body, name)
    names = _rendering_variables.get(document)
    if names is None:  # walking the document is slow: once per document text, not per subscriber
        names = tuple(sorted(_variables_outside_root_arguments(operation, fragments)))
        _bounded_put(_rendering_variables, document, names)
    try:
        encoded = json.dumps({n: variables.get(n) for n in names}, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return None
    return (*document, encoded)


class SharedEventExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, sharing the result of shared subscription events."""

    _document_key: tuple | None = None
    _document_key_ready = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _built_context.set(self)  # per-event copies are made with copy(), not here

    def build_per_event_executor(self, payload: Any) -> Any:
        if not self._document_key_ready:  # once per subscription; the copies inherit it
            self._document_key = document_key(
                self.operation, self.fragment_definitions, self.variable_values.coerced
            )
            self._document_key_ready = True
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        share_key = getattr(self.root_value, SHARE_KEY_ATTRIBUTE, None)
        if share_key is None or self._document_key is None:
            return super().execute_operation(serially)
        key = (share_key, self._document_key)
        cached = _results.get(key)
        if cached is not None:
            _results.move_to_end(key)
            if isinstance(cached, asyncio.Future):
                return self._wait_for_shared(cached, serially)
            return cached

        result = super().execute_operation(serially)
        if not isawaitable(result):
            # One event renders one ExecutionResult (subscriptions deliver no incremental results).
            if not cast(ExecutionResult, result).errors:
                _bounded_put(_results, key, result)
            return result
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        _bounded_put(_results, key, future)
        return _complete_shared(key, result, future)

    async def _wait_for_shared(self, future: asyncio.Future, serially: bool | None) -> Any:
        """Take the first subscriber's result; if it failed, execute for this subscriber."""
        result = await _shared_result(future)
        if result is None:
            result = super().execute_operation(serially)
            if isawaitable(result):
                result = await result
        return result


async def _shared_result(entry: Any) -> Any:
    """The result of a cache entry, waiting for it if needed; None if it is not shareable."""
    if isinstance(entry, asyncio.Future):
        try:
            entry = await asyncio.shield(entry)
        except asyncio.CancelledError:
            if not entry.cancelled():
                raise  # this subscriber was cancelled
            return None
    return None if entry is None or entry.errors else entry


async def _complete_shared(key: tuple, awaitable: Any, future: asyncio.Future) -> Any:
    """Run the first execution of a shared event and hand its result to the waiting ones."""
    result = None
    try:
        result = await awaitable
        return result
    finally:
        shareable = result is not None and not result.errors
        if _results.get(key) is future:
            if shareable:
                _results[key] = result
            else:
                del _results[key]  # later subscribers execute for themselves
        if not future.done():
            if result is None:
                future.cancel()  # the first execution raised or was cancelled
            else:
                future.set_result(result)


def _encoded_data(result: Any) -> str:
    cached = _encoded.get(id(result))
    if cached is not None and cached[0] is result:
        return cached[1]
    text = json.dumps(result.data, separators=(",", ":"))
    _bounded_put(_encoded, id(result), (result, text))
    return text


def _frame(result: Any, prefix: str) -> bytes:
    """The WebSocket frame of ``result`` for the operations whose frames start with ``prefix``."""
    key = (id(result), prefix)
    cached = _frames.get(key)
    if cached is not None and cached[0] is result:
        return cached[1]
    frame = text_frame((prefix + _encoded_data(result) + "}}").encode())
    _bounded_put(_frames, key, (result, frame))
    return frame


async def _render(event: Any, document_key: tuple, context: Any) -> Any:
    """The shared result of ``event`` for a document, executing it with ``context`` (the
    subscription's execution context) if no subscriber has yet; None if it cannot be shared."""
    share_key = getattr(event, SHARE_KEY_ATTRIBUTE, None)
    if share_key is None:
        return None
    entry = _results.get((share_key, document_key))
    if entry is None:
        if context is None:
            return None
        # What graphql-core does for a subscription's event (execute_subscription_event).
        per_event = context.build_per_event_executor(event)
        if per_event._document_key != document_key:
            return None
        entry = per_event.execute_operation(False)
        if isawaitable(entry):
            entry = await entry
    return await _shared_result(entry)


class FastPath:
    """Send shared events of one subscription straight to its socket (see the module doc)."""

    def __init__(self, operation: Any, key: tuple, context: Any = None) -> None:
        self.operation = operation
        self.document_key = key
        self.prefix = '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":{"data":'
        self.consumer = operation.handler.websocket.ws_consumer
        self.writer = SocketWriter.of(self.consumer.scope)
        # The subscription's execution context, to render an event no subscriber rendered yet.
        self.context = context if isinstance(context, SharedEventExecutionContext) else None

    @classmethod
    def of(cls, info: Info) -> FastPath | None:
        """The fast path of the running subscription, or None (then every event is yielded)."""
        operation = current_operation.get()
        if operation is None or operation.task is not asyncio.current_task():
            return None
        raw = info._raw_info
        # Strawberry's resolve info carries the coerced variables dict, not graphql-core's
        # ``VariableValues`` its annotation names.
        variables = cast(dict[str, Any], raw.variable_values)
        key = document_key(raw.operation, raw.fragments, variables)
        context = _built_context.get()
        if context is not None and context.operation is not raw.operation:
            context = None  # not this subscription's
        return None if key is None else cls(operation, key, context)

    @property
    def direct(self) -> bool:
        """True when ``write_rendered`` can send events (the socket takes pre-built frames)."""
        return self.writer is not None and self.context is not None

    def write_rendered(self, event: Any) -> bool | None:
        """Write ``event``'s shared frame to the socket now, from any task. True: written (or
        the operation is over); False: send it the usual way; None: ``render`` it first."""
        if self.operation.completed:
            return True
        share_key = getattr(event, SHARE_KEY_ATTRIBUTE, None)
        if share_key is None or self.writer is None:
            return False
        key = (share_key, self.document_key)
        entry = _results.get(key)
        if entry is None or isinstance(entry, asyncio.Future):
            return False if key in _unshareable else None
        if entry.errors:
            return False
        return self.writer.write(_frame(entry, self.prefix))

    async def render(self, event: Any) -> None:
        """Render ``event`` for this document, with this subscription's execution context."""
        share_key = getattr(event, SHARE_KEY_ATTRIBUTE, None)
        if share_key is None:
            return
        result = None
        try:
            result = await _render(event, self.document_key, self.context)
        finally:
            if result is None:
                # Not shareable (errors, or it raised): not rendered again for every socket;
                # each subscription renders it through strawberry, which reports what fails.
                _bounded_put(_unshareable, (share_key, self.document_key), None)

    async def send(self, event: Any) -> bool:
        """Send ``event``'s frame if another subscriber rendered it; False: yield it instead."""
        share_key = getattr(event, SHARE_KEY_ATTRIBUTE, None)
        entry = _results.get((share_key, self.document_key)) if share_key is not None else None
        if entry is None:
            return False
        result = await _shared_result(entry)
        if result is None:
            return False
        if self.operation.completed:
            return True
        # Straight to the socket when the server allows it; else through ASGI as strawberry does.
        if self.writer is None or not self.writer.write(_frame(result, self.prefix)):
            await self.consumer.send(self.prefix + _encoded_data(result) + "}}")
        return True
