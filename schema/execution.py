"""Execute a pushed subscription event once per document, not once per subscriber.

graphql-core executes a subscription's selection set for every event and every subscriber.
When 1,000 people watch one attachment, one decision would be executed 1,000 times with the
same result. ``SharedEventExecutionContext`` (the schema's execution context class) keeps
the result of a *shared* event in a small per-process cache, keyed by

- the event's ``share_key`` (set by the subscription for pushed events, which carry their own
  snapshot and therefore render the same for every viewer of the company: the key holds the
  event id and the company);
- the document text and operation name;
- the variables the selection set uses (variables used only by the root field's arguments,
  such as ``attachmentId`` or ``since``, pick the stream but do not change how an event
  renders, so subscribers with different ``since`` share the result).

Concurrent subscribers of one event wait for the first execution (one future per key).
Results with errors are not shared. Anything else (queries, mutations, replayed events that
read the database) is executed normally.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from inspect import isawaitable
from typing import Any

from graphql import FieldNode, VariableNode, Visitor, visit
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

SHARED_RESULTS_MAX = 512
SHARE_KEY_ATTRIBUTE = "share_key"

_results: OrderedDict[tuple, Any] = OrderedDict()  # key -> ExecutionResult or Future


def share(event: Any, key: tuple) -> Any:
    """Mark ``event`` (a subscription payload) as rendering the same for every subscriber."""
    setattr(event, SHARE_KEY_ATTRIBUTE, key)
    return event


def clear_shared_results() -> None:
    _results.clear()


class _VariableCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


def _variables_outside_root_arguments(executor: Any) -> set[str]:
    """Names of the variables used anywhere but in the arguments of the root fields."""
    collector = _VariableCollector()
    for selection in executor.operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            for directive in selection.directives or ():
                visit(directive, collector)
            if selection.selection_set is not None:
                visit(selection.selection_set, collector)
        else:  # a fragment at the root: be conservative
            visit(selection, collector)
    for fragment in executor.fragment_definitions.values():
        visit(fragment, collector)
    return collector.names


_rendering_variables: OrderedDict[tuple[str, str | None], tuple[str, ...]] = OrderedDict()


def _document_key(executor: Any) -> tuple | None:
    operation = executor.operation
    if operation.loc is None:
        return None
    name = operation.name.value if operation.name else None
    document = (operation.loc.source.body, name)
    names = _rendering_variables.get(document)
    if names is None:  # walking the document is slow: once per document text, not per subscriber
        names = tuple(sorted(_variables_outside_root_arguments(executor)))
        _rendering_variables[document] = names
        while len(_rendering_variables) > SHARED_RESULTS_MAX:
            _rendering_variables.popitem(last=False)
    variables = executor.variable_values.coerced
    used = {name: variables.get(name) for name in names}
    try:
        encoded = json.dumps(used, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return None
    return (*document, encoded)


class SharedEventExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, sharing the result of shared subscription events."""

    _document_key: tuple | None = None
    _document_key_ready = False

    def build_per_event_executor(self, payload: Any) -> Any:
        if not self._document_key_ready:  # once per subscription; the copies inherit it
            self._document_key = _document_key(self)
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
            if not result.errors:
                _remember(key, result)
            return result
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        _remember(key, future)
        return _complete_shared(key, result, future)

    async def _wait_for_shared(self, future: asyncio.Future, serially: bool | None) -> Any:
        """Take the first subscriber's result; if it failed, execute for this subscriber."""
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.cancelled():
                raise  # this subscriber was cancelled
            result = None
        if result is None or result.errors:
            result = super().execute_operation(serially)
            if isawaitable(result):
                result = await result
        return result


def _remember(key: tuple, value: Any) -> None:
    _results[key] = value
    while len(_results) > SHARED_RESULTS_MAX:
        _results.popitem(last=False)


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
