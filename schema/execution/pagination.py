"""Relay connections with keyset cursors, whose page arguments are checked before slicing.

A cursor holds the values of the list's sort key (ending with the primary key) of its row,
not an offset, so a row inserted or deleted between two page requests never makes the next
page repeat or skip a row. ``first``/``after`` page forwards, ``last``/``before`` backwards.

A page larger than ``max_results``, a negative size or a malformed cursor is a
``VALIDATION_ERROR`` naming the argument.

``totalCount``, when selected, comes with the page: on a page without a cursor from a
``COUNT(*) OVER ()`` window in the page's own query (counted before the ``LIMIT``), after
or before a cursor from a ``COUNT`` run in the same worker thread as the page.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from django.db.models import Count, Q, QuerySet, Window
from strawberry import relay
from strawberry.relay.utils import from_base64, to_base64
from strawberry.types import Info
from strawberry.utils.inspect import in_async_context
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.relay import DjangoListConnection
from strawberry_django.relay.list_connection import _should_optimize_total_count

from backend.workflows.exceptions import WorkflowValidationError
from schema.errors import query_error
from schema.execution.page_statements import TOTAL_ANNOTATION, PageRows, first_page

KEYSET_PREFIX = "keyset"


def encode_cursor(values: list[Any]) -> str:
    """Return the cursor of a row whose sort key has ``values``."""
    return to_base64(KEYSET_PREFIX, json.dumps(values, separators=(",", ":")))


def decode_cursor(value: str) -> list[Any] | None:
    """Return the sort-key values of a keyset cursor, or None when it is not one."""
    try:
        prefix, payload = from_base64(value)
        values = json.loads(payload)
    except (ValueError, TypeError):
        return None
    if prefix != KEYSET_PREFIX or not isinstance(values, list):
        return None
    if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in values):
        return None
    return values


def _is_cursor(value: str) -> bool:
    return decode_cursor(value) is not None


def sort_key(queryset: QuerySet[Any]) -> list[tuple[str, bool]]:
    """Return ``(field, descending)`` pairs ordering ``queryset``, ending with the primary key."""
    key: list[tuple[str, bool]] = []
    for item in queryset.query.order_by:
        name = str(item)
        descending = name.startswith("-")
        field = name.lstrip("-")
        field = "pk" if field in ("id", "pk") else field
        if field not in (f for f, _ in key):
            key.append((field, descending))
        if field == "pk":
            break
    if not key or key[-1][0] != "pk":
        key.append(("pk", key[-1][1] if key else False))
    return key


def _beyond(key: list[tuple[str, bool]], values: list[Any], *, forward: bool) -> Q:
    """Return the condition of the rows after (``forward``) or before the row with ``values``."""
    condition = Q(pk__in=[])
    for position, (field, descending) in enumerate(key):
        # Ascending and forwards (or descending and backwards): greater values lie beyond.
        lookup = "gt" if descending != forward else "lt"
        step = Q(**{f"{field}__{lookup}": values[position]})
        for earlier, (earlier_field, _) in enumerate(key[:position]):
            step &= Q(**{earlier_field: values[earlier]})
        condition |= step
    return condition


def _cursor_value(value: Any) -> Any:
    # A date-time (e.g. the inbox's due time) travels as ISO 8601; the filter parses it back.
    return value.isoformat() if isinstance(value, datetime) else value


def _row_values(row: Any, key: list[tuple[str, bool]]) -> list[Any]:
    return [_cursor_value(row.pk if field == "pk" else getattr(row, field)) for field, _ in key]


def keyset_page(
    queryset: QuerySet[Any],
    *,
    before: str | None,
    after: str | None,
    first: int | None,
    last: int | None,
    max_results: int,
    with_total: bool = False,
) -> tuple[list[tuple[Any, str]], dict[str, Any]]:
    """Return ``[(row, cursor)]`` of the requested page and its page info (arguments checked).

    With ``with_total`` the page info also holds ``total``: how many rows ``queryset`` has.
    """
    key = sort_key(queryset)
    # Window functions are evaluated before DISTINCT: a distinct list is counted apart.
    window_total = with_total and before is None and after is None and not queryset.query.distinct
    rows = queryset.annotate(**{TOTAL_ANNOTATION: Window(Count("*"))}) if window_total else queryset
    for name, cursor, forward in (("after", after, True), ("before", before, False)):
        if cursor is None:
            continue
        values = decode_cursor(cursor)
        if values is None or len(values) != len(key):
            raise WorkflowValidationError(f"Argument '{name}' is not a valid cursor.", field=name)
        rows = rows.filter(_beyond(key, values, forward=forward))
    backwards = last is not None and first is None
    size = page_size(first, last, max_results)
    if backwards:
        ordering = [f"{'' if descending else '-'}{field}" for field, descending in key]
        fetched = list(rows.order_by(*ordering)[: size + 1])
        more = len(fetched) > size
        page = list(reversed(fetched[:size]))
        info: dict[str, Any] = {"has_previous_page": more, "has_next_page": before is not None}
        if window_total:
            info["total"] = _window_total(fetched)
        elif with_total:
            info["total"] = queryset.count()
        return _with_cursors(page, key), info
    return forward_page(
        list(rows[: size + 1]),
        key,
        size=size,
        first=first,
        last=last,
        after=after,
        total=_window_total
        if window_total
        else (lambda _: queryset.count())
        if with_total
        else None,
    )


def page_size(first: int | None, last: int | None, max_results: int) -> int:
    """Return how many rows a page of these arguments holds at most."""
    backwards = last is not None and first is None
    size = (last if backwards else first) if (first is not None or last is not None) else None
    return max_results if size is None else size


def _window_total(fetched: list[Any]) -> int:
    # Every row carries the count; no row at all means an empty list.
    return getattr(fetched[0], TOTAL_ANNOTATION) if fetched else 0


def _with_cursors(page: list[Any], key: list[tuple[str, bool]]) -> list[tuple[Any, str]]:
    return [(row, encode_cursor(_row_values(row, key))) for row in page]


def forward_page(
    fetched: list[Any],
    key: list[tuple[str, bool]],
    *,
    size: int,
    first: int | None,
    last: int | None,
    after: str | None,
    total: Any = None,
) -> tuple[list[tuple[Any, str]], dict[str, Any]]:
    """Return the page and page info of ``fetched``: the first ``size + 1`` rows forwards.

    ``total``, when given, is called with ``fetched`` and returns the list's row count.
    """
    more = len(fetched) > size
    page = fetched[:size]
    if first is not None and last is not None and last < len(page):
        page = page[len(page) - last :]
    info: dict[str, Any] = {"has_next_page": more, "has_previous_page": after is not None}
    if total is not None:
        info["total"] = total(fetched)
    return _with_cursors(page, key), info


def check_page_arguments(
    *,
    before: str | None,
    after: str | None,
    first: int | None,
    last: int | None,
    max_results: int,
) -> None:
    """Raise a validation error for a page size out of ``0..max_results`` or a foreign cursor."""
    for name, size in (("first", first), ("last", last)):
        if size is None:
            continue
        if size < 0:
            raise WorkflowValidationError(
                f"Argument '{name}' must be a non-negative integer.", field=name
            )
        if size > max_results:
            raise WorkflowValidationError(
                f"Argument '{name}' cannot be higher than {max_results}.", field=name
            )
    for name, cursor in (("after", after), ("before", before)):
        if cursor is not None and not _is_cursor(cursor):
            raise WorkflowValidationError(f"Argument '{name}' is not a valid cursor.", field=name)


class DeferredNodes:
    """A root connection's resolver and queryset hook, to run in the page's worker thread.

    Under async execution strawberry-django runs a synchronous resolver in a worker thread,
    then its queryset hook (filters, the optimizer) in another, then the connection reads
    its page in a third: three hops to a thread and back. ``OneHopConnectionField`` hands
    the connection this instead, and the connection runs all three in one hop.
    """

    def __init__(self, resolve: Any, hook: Any) -> None:
        self.resolve = resolve
        # The field's queryset hook, for a resolver that returned ``PageRows``.
        self.hook = hook


class OneHopConnectionField(StrawberryDjangoField):
    """A connection field whose resolver, queryset hook and page share one worker thread."""

    def get_result(
        self, source: Any, info: Info | None, args: list[Any], kwargs: dict[str, Any]
    ) -> Any:
        def hook(queryset: QuerySet[Any]) -> Any:
            # As strawberry-django's ``get_result`` runs it on a queryset a resolver returns.
            return self.get_queryset_hook(**{"info": info, **kwargs})(queryset)

        if (
            self.base_resolver is None
            or self.base_resolver.is_async
            or not self.is_connection
            or not in_async_context()
        ):
            result = super().get_result(source, info, args, kwargs)
            if isinstance(result, PageRows):  # not under async execution: the ORM's path
                return hook(result.queryset())
            return result
        # In the worker thread there is no running loop: the resolver and the hook run inline.
        return DeferredNodes(
            lambda: super(OneHopConnectionField, self).get_result(source, info, args, kwargs),
            hook,
        )


# Named "Connection" like its parent, so the schema's type names (WorkflowConnection, ...) stay.
@strawberry.type(name="Connection", description="A connection to a list of items.")
class CheckedListConnection(DjangoListConnection[relay.NodeType]):
    # The list's row count, read with the page when ``totalCount`` is selected.
    known_total: strawberry.Private[int | None] = None

    @strawberry.field(description="Total quantity of existing nodes.")
    def total_count(self) -> int | None:
        if self.known_total is not None:
            return self.known_total
        return DjangoListConnection.total_count.base_resolver(self)  # type: ignore[attr-defined]

    @classmethod
    def resolve_connection(
        cls,
        nodes: Any,
        *,
        info: Info,
        before: str | None = None,
        after: str | None = None,
        first: int | None = None,
        last: int | None = None,
        max_results: int | None = None,
        **kwargs: Any,
    ) -> Any:
        try:
            check_page_arguments(
                before=before,
                after=after,
                first=first,
                last=last,
                max_results=max_results
                if max_results is not None
                else info.schema.config.relay_max_results,
            )
        except WorkflowValidationError as error:
            raise query_error(error) from error
        limit = max_results if max_results is not None else info.schema.config.relay_max_results
        with_total = _should_optimize_total_count(info)

        def build(nodes: QuerySet[Any] | None, planned: Any = None) -> Any:
            if planned is not None:
                fetched, key, window_total = planned
                page, page_info = forward_page(
                    fetched,
                    key,
                    size=page_size(first, last, limit),
                    first=first,
                    last=last,
                    after=after,
                    total=_window_total if window_total else None,
                )
            else:
                assert nodes is not None
                try:
                    page, page_info = keyset_page(
                        nodes,
                        before=before,
                        after=after,
                        first=first,
                        last=last,
                        max_results=limit,
                        with_total=with_total,
                    )
                except WorkflowValidationError as error:
                    raise query_error(error) from error
            edges = [
                relay.Edge(node=cls.resolve_node(row, info=info, **kwargs), cursor=cursor)
                for row, cursor in page
            ]
            total = page_info.pop("total", None)
            return cls(
                edges=edges,
                page_info=relay.PageInfo(
                    start_cursor=edges[0].cursor if edges else None,
                    end_cursor=edges[-1].cursor if edges else None,
                    **page_info,
                ),
                nodes=nodes,
                known_total=total,
            )

        if isinstance(nodes, DeferredNodes):
            deferred = nodes

            def resolved_then_built() -> Any:
                nodes = deferred.resolve()
                if isinstance(nodes, PageRows):
                    rows = nodes
                    planned = None
                    if before is None and after is None and (first is not None or last is None):
                        planned = first_page(
                            rows,
                            deferred.hook,
                            info,
                            size=page_size(first, last, limit),
                            with_total=with_total,
                            sort_key_of=sort_key,
                        )
                    if planned is not None:
                        return build(None, planned)
                    nodes = deferred.hook(rows.queryset())
                if isinstance(nodes, QuerySet):
                    return build(nodes)
                return cls.resolve_connection(
                    nodes,
                    info=info,
                    before=before,
                    after=after,
                    first=first,
                    last=last,
                    max_results=max_results,
                    **kwargs,
                )

            return sync_to_async(resolved_then_built)()
        if not isinstance(nodes, QuerySet):
            return super().resolve_connection(
                nodes,
                info=info,
                before=before,
                after=after,
                first=first,
                last=last,
                max_results=max_results,
                **kwargs,
            )
        # The page is read from the database: in a worker thread under async execution.
        return sync_to_async(build)(nodes) if in_async_context() else build(nodes)
