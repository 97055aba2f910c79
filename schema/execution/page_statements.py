"""The first page of a root connection, read with SQL compiled once per document.

A root connection's queryset is built for every request: its resolver's filters, then
strawberry-django's queryset hook (the type's ``get_queryset`` and the optimizer, which walks
the document's selection), then the page's window count and ``LIMIT``, then Django compiles
it. For the README's inbox that was most of a request's time, for SQL that differs from one
request to the next only in its values (the viewer and their company).

A resolver that can say which plain values its queryset is built from returns ``PageRows``
instead of a queryset. The connection then builds the page's queryset once per *plan*, with
placeholder values, through the same hook, compiles it (``backend/precompiled.py``), and
runs it again for each request with that request's values bound as parameters (never
written into the SQL); the rows become model instances as Django's iterable makes them,
and the optimizer's prefetches run on them as ``QuerySet`` runs them (a foreign key's
through a precompiled statement too, see ``_ForeignKeyPrefetch``).

A plan is keyed by everything else the statement depends on: the resolver's key, the
database, the schema, the parsed document (documents are parsed once per text) and the
field's place in it, the operation's variables, the page arguments, whether ``totalCount``
is selected, and the shape of the values (see ``backend.precompiled``). Only the first page
is planned (a cursor is a value the ORM's cursor condition builds); any other page, values
the precompiled statements do not support (None, an empty list), and a ``DISTINCT`` list
with ``totalCount`` take the ORM's path, as before.

Tenancy: the values the resolver names are the only ones that vary between viewers, and
they are bound. A plan whose statement or prefetches hold one of this request's values
anywhere but at a placeholder (a hook that read the viewer from the context) is refused
and never kept, so a value of one viewer is never served to another.
``tests/api/test_page_statements.py`` compares both paths.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Count, Prefetch, QuerySet, Window, prefetch_related_objects
from django.db.models.constants import LOOKUP_SEP

from backend.precompiled import (
    CompiledStatement,
    PrecompiledQuery,
    placeholders_for,
    run_compiled,
    values_shape,
)

# The plans kept (least recently used dropped first): one per document and page size of
# each planned field, in practice a handful.
MAX_PLANS = 256
# The window annotation holding the list's row count on each row of a page.
TOTAL_ANNOTATION = "keyset_total_count"
_PLAN_MISSING: Any = object()


class PageRows:
    """A root connection's rows: ``build(**values)``, a queryset of plain ``values``.

    Returned by a resolver instead of the queryset itself, so the connection can read its
    first page through a compiled statement. ``key`` names the resolver's query (and any
    argument that changes its SQL other than through ``values``).
    """

    __slots__ = ("build", "key", "values")

    def __init__(self, key: Hashable, build: Callable[..., QuerySet[Any]], **values: Any):
        self.key = key
        self.build = build
        self.values = values

    def queryset(self) -> QuerySet[Any]:
        """Return the queryset with the real values (the ORM's path)."""
        return self.build(**self.values)


class _ForeignKeyPrefetch:
    """A ``Prefetch`` of a foreign key to a primary key, read with a precompiled statement.

    The optimizer prefetches a foreign key (instead of joining it) when the related type
    filters its rows (``get_queryset``). Django builds and compiles that query for every
    page; here it is compiled once per number of distinct keys, and each row gets the
    related object (or None, for a null or a missing key) in the same cache Django's
    prefetch fills.
    """

    def __init__(self, field: Any, queryset: QuerySet[Any]) -> None:
        self.field = field
        self.statement = PrecompiledQuery(lambda ids: queryset.filter(pk__in=ids))

    @classmethod
    def of(cls, model: Any, lookup: Any) -> _ForeignKeyPrefetch | None:
        """Return the precompiled form of ``lookup`` on rows of ``model``, if it has one."""
        if not isinstance(lookup, Prefetch) or lookup.queryset is None or lookup.to_attr:
            return None
        name = lookup.prefetch_through
        if LOOKUP_SEP in name:
            return None
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        queryset = lookup.queryset
        if (
            not getattr(field, "many_to_one", False)
            or not field.concrete
            or field.target_field != field.related_model._meta.pk
            or queryset.model is not field.related_model
            or queryset._prefetch_related_lookups  # type: ignore[attr-defined]
            or queryset.query.is_sliced
            or queryset.query.distinct
        ):
            return None
        return cls(field, queryset)

    def run(self, instances: list[Any]) -> None:
        keys = list(
            dict.fromkeys(
                key for key in (getattr(row, self.field.attname) for row in instances) if key
            )
        )
        found = {related.pk: related for related in self.statement.fetch(ids=keys)} if keys else {}
        for row in instances:
            key = getattr(row, self.field.attname)
            self.field.set_cached_value(row, found.get(key) if key is not None else None)


class _Plan:
    """The compiled first page of one document's connection field, and what it needs."""

    __slots__ = (
        "foreign_keys",
        "lookups",
        "operation",
        "schema",
        "sort_key",
        "statement",
        "window_total",
    )

    def __init__(
        self,
        *,
        statement: CompiledStatement,
        foreign_keys: tuple[_ForeignKeyPrefetch, ...],
        lookups: tuple[Any, ...],
        sort_key: list[tuple[str, bool]],
        window_total: bool,
        operation: Any,
        schema: Any,
    ) -> None:
        self.statement = statement
        self.foreign_keys = foreign_keys
        self.lookups = lookups
        self.sort_key = sort_key
        self.window_total = window_total
        # Held so the ids in the plan's key cannot be reused by other objects.
        self.operation = operation
        self.schema = schema


_plans: OrderedDict[tuple[Hashable, ...], _Plan | None] = OrderedDict()
_lock = threading.Lock()


def clear_plans() -> None:
    """Forget every plan (tests; a schema rebuilt in-process)."""
    with _lock:
        _plans.clear()


def _variables_key(variables: dict[str, Any] | None) -> str:
    return json.dumps(variables or {}, sort_keys=True, default=repr)


def _fresh_lookups(lookups: tuple[Any, ...]) -> list[Any]:
    """Copy the plan's prefetch lookups, so no queryset is shared between requests."""
    fresh: list[Any] = []
    for lookup in lookups:
        if isinstance(lookup, Prefetch) and lookup.queryset is not None:
            clone = copy.copy(lookup)
            queryset = lookup.queryset._chain()  # type: ignore[attr-defined]
            queryset._prefetch_related_lookups = tuple(  # type: ignore[attr-defined]
                _fresh_lookups(lookup.queryset._prefetch_related_lookups)  # type: ignore[attr-defined]
            )
            clone.queryset = queryset
            fresh.append(clone)
        else:
            fresh.append(copy.copy(lookup) if isinstance(lookup, Prefetch) else lookup)
    return fresh


def _parameters_of(lookups: tuple[Any, ...], alias: str) -> list[Any]:
    """Return the SQL parameters of the prefetch querysets (as compiled now, without keys)."""
    found: list[Any] = []
    for lookup in lookups:
        if isinstance(lookup, Prefetch) and lookup.queryset is not None:
            _, params = lookup.queryset.query.get_compiler(using=alias).as_sql()
            found.extend(params)
            found.extend(_parameters_of(lookup.queryset._prefetch_related_lookups, alias))  # type: ignore[attr-defined]
    return found


def _holds_a_value(parameters: list[Any], values: dict[str, Any]) -> bool:
    """Tell whether one of the real ``values`` (or list items) is among ``parameters``."""
    real: set[Any] = set()
    for value in values.values():
        real.update(value if isinstance(value, list | tuple) else [value])
    return any(
        isinstance(parameter, str | int) and not isinstance(parameter, bool) and parameter in real
        for parameter in parameters
    )


def _build_plan(
    rows: PageRows,
    hook: Callable[[QuerySet[Any]], QuerySet[Any]],
    info: Any,
    *,
    size: int,
    with_total: bool,
    sort_key_of: Callable[[QuerySet[Any]], list[tuple[str, bool]]],
    alias: str,
) -> _Plan | None:
    placeholders = placeholders_for(rows.values)
    built = rows.build(**placeholders)
    # The resolver's own constants (e.g. an EXISTS's SELECT 1), before the hook adds to it.
    _, built_params = built.query.get_compiler(using=alias).as_sql()
    queryset = hook(built)
    if not isinstance(queryset, QuerySet) or queryset._result_cache is not None:  # type: ignore[attr-defined]
        return None
    if with_total and queryset.query.distinct:
        return None  # counted apart (windows come before DISTINCT): the ORM's path
    window_total = with_total
    if window_total:
        queryset = queryset.annotate(**{TOTAL_ANNOTATION: Window(Count("*"))})
    sort_key = sort_key_of(queryset)
    statement_queryset = queryset[: size + 1]
    lookups = tuple(statement_queryset._prefetch_related_lookups)  # type: ignore[attr-defined]
    statement_queryset._prefetch_related_lookups = ()  # type: ignore[attr-defined]
    try:
        statement = CompiledStatement(statement_queryset, placeholders, alias)
    except (ValueError, TypeError):
        return None
    # What the hook added (the type's get_queryset, permissions, the optimizer's prefetches)
    # may read the viewer from the context: none of it may hold one of the request's values.
    slots = {position for _, _, position in statement.slots}
    fixed = [param for index, param in enumerate(statement.params) if index not in slots]
    for param in built_params:
        if param in fixed:
            fixed.remove(param)
    fixed.extend(_parameters_of(lookups, alias))
    placeholder_items: list[Any] = []
    for value in placeholders.values():
        placeholder_items.extend(value if isinstance(value, list) else [value])
    if _holds_a_value(fixed, rows.values) or any(item in fixed for item in placeholder_items):
        return None
    foreign_keys = []
    remaining = []
    for lookup in lookups:
        precompiled = _ForeignKeyPrefetch.of(queryset.model, lookup)
        if precompiled is None:
            remaining.append(lookup)
        else:
            foreign_keys.append(precompiled)
    return _Plan(
        statement=statement,
        foreign_keys=tuple(foreign_keys),
        lookups=tuple(remaining),
        sort_key=sort_key,
        window_total=window_total,
        operation=info.operation,
        schema=info.schema,
    )


def first_page(
    rows: PageRows,
    hook: Callable[[QuerySet[Any]], QuerySet[Any]],
    info: Any,
    *,
    size: int,
    with_total: bool,
    sort_key_of: Callable[[QuerySet[Any]], list[tuple[str, bool]]],
) -> tuple[list[Any], list[tuple[str, bool]], bool] | None:
    """Return the first ``size + 1`` rows, their sort key and whether they carry the total.

    None when this page has no plan: the caller then reads it through the ORM.
    """
    shape = values_shape(rows.values)
    if shape is None:
        return None
    alias = DEFAULT_DB_ALIAS
    connection = connections[alias]
    key = (
        rows.key,
        alias,
        connection.vendor,
        id(info.schema),
        id(info.operation),
        tuple(info.path.as_list()),
        _variables_key(info.variable_values),
        size,
        with_total,
        shape,
    )
    with _lock:
        plan = _plans.get(key, _PLAN_MISSING)
        if plan is not _PLAN_MISSING:
            _plans.move_to_end(key)
    if (
        plan is not _PLAN_MISSING
        and plan is not None
        and (plan.operation is not info.operation or plan.schema is not info.schema)
    ):
        plan = _PLAN_MISSING  # an id reused by a new object: plan again
    if plan is _PLAN_MISSING:
        plan = _build_plan(
            rows,
            hook,
            info,
            size=size,
            with_total=with_total,
            sort_key_of=sort_key_of,
            alias=alias,
        )
        with _lock:
            _plans[key] = plan
            while len(_plans) > MAX_PLANS:
                _plans.popitem(last=False)
    if plan is None:
        return None
    fetched = run_compiled(plan.statement, rows.values, alias)
    if fetched:
        for foreign_key in plan.foreign_keys:
            foreign_key.run(fetched)
    if plan.lookups and fetched:
        prefetch_related_objects(fetched, *_fresh_lookups(plan.lookups))
    return fetched, plan.sort_key, plan.window_total
