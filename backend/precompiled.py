"""Querysets compiled to SQL once and run again with other values, for the hottest reads.

Building and compiling a statement through the ORM costs more than running it on SQLite
(0.3 to 1 ms against 0.03 to 0.3 ms for the reads of a decision). ``PrecompiledQuery``
builds its queryset once per database (alias and vendor) and per *shape* of its values
(the length of each list), with placeholder values, compiles it, and remembers where each
placeholder lands among the statement's parameters. Each run binds the real values at those
places (always as parameters, never in the SQL text) and turns the rows into model instances
the way Django's ``ModelIterable`` does: the same fields, ``select_related`` objects and
annotations, through the compiler's own converters (or into dicts, as ``values()`` does).

Supported values are ``str``, ``int`` in the 32-bit range, and non-empty lists of them:
the ORM writes the same SQL for any such value. Anything else (None, an empty list, a bool,
another type) runs the queryset through the ORM unchanged, as does a queryset with
``prefetch_related``.
Reads go to the default database (the project has one).
``tests/operations/test_precompiled_queries.py`` compares both paths on each database.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, ValuesIterable, get_related_populators
from django.db.transaction import TransactionManagementError

# Placeholders: values no caller passes (a negative key near the 32-bit floor, which every
# integer column accepts in a lookup, and a string with control characters), each distinct,
# so their positions among the parameters are certain.
_INT_PLACEHOLDER_BASE = -(2**31) + 1000
_STR_PLACEHOLDER = "\x1eprecompiled-{}\x1f"
_MISSING: Any = object()
# Compiled shapes kept per statement: the list lengths callers send are bounded (page sizes,
# bulk items), but a cap keeps memory bounded whatever they send; past it the ORM answers.
MAX_SHAPES = 256


# An integer outside the 32-bit range may be out of a column's range, which the ORM answers
# without a query (no row); such a value goes to the ORM.
_INT_RANGE = range(-(2**31), 2**31)


def _is_plain(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, str) or (isinstance(value, int) and value in _INT_RANGE)


def _shape(values: dict[str, Any]) -> tuple[Hashable, ...] | None:
    """Return the lengths of the list values (None for a scalar), or None if unsupported."""
    shape: list[Hashable] = []
    for name in sorted(values):
        value = values[name]
        if _is_plain(value):
            shape.append((name, type(value).__name__, None))
        elif isinstance(value, list | tuple) and value and all(_is_plain(v) for v in value):
            kinds = {type(v).__name__ for v in value}
            if len(kinds) != 1:
                return None
            shape.append((name, kinds.pop(), len(value)))
        else:
            return None
    return tuple(shape)


def values_shape(values: dict[str, Any]) -> tuple[Hashable, ...] | None:
    """Return what decides the SQL of ``values`` (see ``_shape``), or None if unsupported."""
    return _shape(values)


def placeholders_for(values: dict[str, Any]) -> dict[str, Any]:
    """Return a distinct placeholder for each value (and list item) of ``values``."""
    counter = itertools.count()
    placeholders: dict[str, Any] = {}

    def one(value: Any) -> Any:
        number = next(counter)
        if isinstance(value, str):
            return _STR_PLACEHOLDER.format(number)
        return _INT_PLACEHOLDER_BASE + number

    for name, value in values.items():
        placeholders[name] = (
            [one(item) for item in value] if isinstance(value, list | tuple) else one(value)
        )
    return placeholders


class _Compiled:
    """One compiled statement: its SQL, parameters with placeholders, and the row layout."""

    def __init__(self, queryset: QuerySet[Any], placeholders: dict[str, Any], alias: str):
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        self.compiler = compiler
        self.sql = sql
        self.params = tuple(params)
        self.select_for_update = queryset.query.select_for_update
        # Where each value goes: [(name, index in the value's list or None, parameter index)].
        self.slots: list[tuple[str, int | None, int]] = []
        for name, placeholder in placeholders.items():
            items = placeholder if isinstance(placeholder, list) else [placeholder]
            for item_index, item in enumerate(items):
                found = [i for i, param in enumerate(self.params) if param == item]
                if not found:
                    raise ValueError(f"Value {name!r} is not a parameter of the statement.")
                for position in found:
                    slot_index = item_index if isinstance(placeholder, list) else None
                    self.slots.append((name, slot_index, position))
        select, klass_info = compiler.select, compiler.klass_info
        # The converters of the selected columns (database values to Python), as
        # ``results_iter`` finds them on each run.
        self.converters = compiler.get_converters(
            [column[0] for column in select[: compiler.col_count]]
        )
        self.value_names: list[str] | None = None
        if queryset._iterable_class is ValuesIterable:
            query = queryset.query
            self.value_names = (
                list(query.selected)
                if query.selected
                else [*query.extra_select, *query.values_select, *query.annotation_select]
            )
            return
        if queryset._iterable_class is not ModelIterable or klass_info is None:
            raise ValueError("A precompiled query selects model instances or values().")
        self.model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.model_slice = slice(start, end)
        self.init_list = [column[0].target.attname for column in select[start:end]]
        self.select = select
        self.klass_info = klass_info
        self.annotation_col_map = dict(compiler.annotation_col_map or {})

    def bind(self, values: dict[str, Any]) -> list[Any]:
        params = list(self.params)
        for name, item_index, position in self.slots:
            value = values[name]
            params[position] = value if item_index is None else value[item_index]
        return params


class PrecompiledQuery:
    """A read built by ``build(**values)`` (model instances or ``values()``), compiled once.

    ``fetch(**values)`` returns ``list(build(**values))``: the same instances (or dicts),
    read with the SQL compiled for the first call of that database and shape of values.
    """

    def __init__(
        self, build: Callable[..., QuerySet[Any]], *, variant: Callable[[], Hashable] | None = None
    ) -> None:
        self.build = build
        # What else decides the SQL (e.g. a setting naming a model): part of the cache key.
        self.variant = variant
        # None: that shape is not precompilable (the ORM runs it).
        self._compiled: dict[tuple[Hashable, ...], _Compiled | None] = {}

    def _placeholders(self, values: dict[str, Any]) -> dict[str, Any]:
        return placeholders_for(values)

    def fetch(self, **values: Any) -> list[Any]:
        shape = _shape(values)
        if shape is None:
            return list(self.build(**values))
        alias = DEFAULT_DB_ALIAS
        connection = connections[alias]
        key = (alias, connection.vendor, self.variant() if self.variant else None, shape)
        compiled = self._compiled.get(key, _MISSING)
        if compiled is _MISSING and len(self._compiled) >= MAX_SHAPES:
            return list(self.build(**values))
        if compiled is _MISSING:
            placeholders = self._placeholders(values)
            try:
                queryset = self.build(**placeholders)
                if queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
                    raise ValueError("prefetch_related runs queries of its own")
                compiled = _Compiled(queryset, placeholders, alias)
            except (ValueError, TypeError):
                # Not precompilable (e.g. a text value for an integer column): remembered,
                # and the ORM answers (or raises its own error) with the real values.
                compiled = None
            self._compiled[key] = compiled
        if compiled is None:
            return list(self.build(**values))
        if (
            compiled.select_for_update
            and connection.features.has_select_for_update
            and connection.get_autocommit()
        ):
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.bind(values))
            rows = cursor.fetchall()
        return self._instances(compiled, rows, alias)

    @staticmethod
    def _instances(compiled: _Compiled, rows: list[Any], alias: str) -> list[Any]:
        return compiled_results(compiled, rows, alias)


# A compiled statement, for callers that build their own (``schema/execution/page_statements.py``).
CompiledStatement = _Compiled


def run_compiled(
    compiled: _Compiled, values: dict[str, Any], alias: str = DEFAULT_DB_ALIAS
) -> list[Any]:
    """Run ``compiled`` with ``values`` bound; return its instances (or dicts)."""
    with connections[alias].cursor() as cursor:
        cursor.execute(compiled.sql, compiled.bind(values))
        rows = cursor.fetchall()
    return compiled_results(compiled, rows, alias)


def compiled_results(compiled: _Compiled, rows: list[Any], alias: str) -> list[Any]:
    """Turn the rows of ``compiled`` into model instances (or dicts), as Django's iterables do."""
    if compiled.converters:
        rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
    if compiled.value_names is not None:
        # As Django's ValuesIterable does.
        names = compiled.value_names
        return [dict(zip(names, row, strict=False)) for row in rows]
    # As Django's ModelIterable does with the rows of a compiled query.
    # Django 5.2 signature (the type stubs describe a later one).
    populators = get_related_populators(compiled.klass_info, compiled.select, alias)  # type: ignore[call-arg]
    instances = []
    for row in rows:
        instance = compiled.model.from_db(alias, compiled.init_list, row[compiled.model_slice])
        for populator in populators:
            populator.populate(row, instance)
        for name, position in compiled.annotation_col_map.items():
            setattr(instance, name, row[position])
        instances.append(instance)
    return instances
