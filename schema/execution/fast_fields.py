"""Execution shortcuts: graphql-core's and strawberry's answer, with less work per field.

A page of 100 workflows of 5 x 5 stages has about 30,000 fields, 19,000 of them leaves that
only read a column or a dataclass attribute (``id``, ``nameEn``, ``color``, ``approvalType``).
For each, graphql-core builds a ``GraphQLResolveInfo``, strawberry builds its ``Info``, parses
(absent) arguments, runs the field-extension chain and strawberry-django looks the attribute up
on the model class, before graphql-core completes and coerces the value: about ten times the
work of reading the attribute. ``ExecutionShortcuts`` reads such a field directly and coerces
it with the same output coercion graphql-core would use, and goes from an object value
straight to its sub-fields (graphql-core passes each of the page's 12,000 objects through
three more layers that only matter for ``@defer``, which this schema does not enable).

A field is *plain* when the schema alone proves that reading it cannot run user code, touch the
database or need its arguments:

- it is a scalar or enum field with no arguments, no resolver and no field extensions
  (permission classes are extensions), and strawberry reads it with ``getattr``;
- for a strawberry-django field, the model attribute is a concrete column (a plain
  ``DeferredAttribute``), read from the instance's ``__dict__``: a deferred column is absent
  there, so it takes the normal path (which loads it) instead of querying here.

Fields with a resolver still run it, but ``install_lean_resolvers`` replaces strawberry's
wrapper around it (the ``Info``, argument conversion and extension chain, built for every call)
with a direct call when the field takes no arguments and has no field extensions, and, for a
strawberry-django field, only when its resolver is marked async-safe (it never queries and
never returns a QuerySet, so strawberry-django has nothing to add). ``ExecutionShortcuts``
calls such a resolver itself and completes its value when that is plain: a leaf is coerced,
an object or a list of objects goes straight to its sub-fields; graphql-core's resolve info
is built only if the resolver reads it (``LazyResolveInfo``).

Anything unusual takes graphql-core's normal path for that one field: the attribute is
missing, the value is null for a non-null field, or coercion fails. The normal path then
produces exactly the error or value it always did. The shortcut is off for a request whose
schema extensions wrap resolvers (graphql-core middleware), so such an extension still sees
every field.

The shortcuts lean on internals of graphql-core, strawberry and strawberry-django (method
signatures, attribute names), so those three are pinned in ``pyproject.toml`` to the versions
they were verified against. ``shortcuts_available`` checks those internals once per process
and turns the shortcuts off, with one warning, when they differ; the setting
``GRAPHQL_EXECUTION_SHORTCUTS = False`` turns them off too.
"""

from __future__ import annotations

import functools
import inspect
import logging
import operator
from collections.abc import Callable
from importlib.metadata import version
from inspect import iscoroutine
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db.models.query_utils import DeferredAttribute
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver
from strawberry_django.fields.field import StrawberryDjangoField

logger = logging.getLogger("schema.execution.fast_fields")

_MISSING = object()

# The versions these shortcuts were verified against (pinned in pyproject.toml).
VERIFIED_VERSIONS = {
    "graphql-core": "3.3.2",
    "strawberry-graphql": "0.341.2",
    "strawberry-graphql-django": "0.93.0",
}

# The executor methods overridden or called below, with the parameters they are called with.
EXPECTED_EXECUTOR_SIGNATURES = {
    "execute_fields": (
        "self",
        "parent_type",
        "source_value",
        "path",
        "grouped_field_set",
        "position_context",
    ),
    "execute_field": (
        "self",
        "parent_type",
        "source",
        "field_details_list",
        "path",
        "position_context",
    ),
    "complete_value": (
        "self",
        "return_type",
        "field_details_list",
        "info",
        "path",
        "result",
        "position_context",
    ),
    "collect_subfields": ("self", "return_type", "field_details_list"),
    "handle_field_error": ("self", "raw_error", "return_type", "field_details_list", "path"),
    "complete_awaitable_value": (
        "self",
        "return_type",
        "field_details_list",
        "info",
        "path",
        "result",
        "position_context",
    ),
    "build_resolve_info": ("self", "field_def", "field_nodes", "parent_type", "path"),
    "__init__": ("middleware_manager", "is_awaitable"),  # among its parameters
}


def _probe_resolver() -> None:
    """Give ``internals_mismatches`` a resolver to inspect."""


def internals_mismatches() -> list[str]:
    """Return what differs from the library internals the shortcuts rely on (empty: none)."""
    problems = []
    executor = StrawberryGraphQLCoreExecutionContext
    for name, expected in EXPECTED_EXECUTOR_SIGNATURES.items():
        method = getattr(executor, name, None)
        if name == "__init__":  # strawberry's takes (*args, **kwargs): read the one that names them
            constructors = [
                vars(base)["__init__"] for base in executor.__mro__ if "__init__" in vars(base)
            ]
            method = next(
                (
                    constructor
                    for constructor in constructors
                    if "middleware_manager" in inspect.signature(constructor).parameters
                ),
                method,
            )
        actual = tuple(inspect.signature(method).parameters) if callable(method) else ()
        matches = set(expected) <= set(actual) if name == "__init__" else actual == expected
        if not matches:
            problems.append(f"executor.{name}{actual} is not {expected}")
    for name in ("is_awaitable", "settle_in_background"):
        if not hasattr(executor, name):
            problems.append(f"executor.{name} is missing")
    resolver = StrawberryResolver(_probe_resolver)
    for name in ("wrapped_func", "self_parameter", "root_parameter", "parent_parameter"):
        if not hasattr(resolver, name):
            problems.append(f"StrawberryResolver.{name} is missing")
    field = StrawberryField(python_name="probe")
    for name in ("base_resolver", "extensions", "default_resolver", "arguments"):
        if not hasattr(field, name):
            problems.append(f"StrawberryField.{name} is missing")
    if not hasattr(StrawberryDjangoField(python_name="probe"), "django_name"):
        problems.append("StrawberryDjangoField.django_name is missing")
    if (
        not hasattr(DeferredAttribute, "__get__")
        or "field" not in inspect.signature(DeferredAttribute.__init__).parameters
    ):
        problems.append("DeferredAttribute no longer takes a field")
    return problems


@functools.cache
def _internals_match() -> bool:
    problems = internals_mismatches()
    if problems:
        installed = ", ".join(f"{name} {version(name)}" for name in VERIFIED_VERSIONS)
        verified = ", ".join(f"{name} {number}" for name, number in VERIFIED_VERSIONS.items())
        logger.warning(
            "Execution shortcuts are off: the library internals they rely on differ (%s); "
            "installed %s, verified against %s.",
            "; ".join(problems),
            installed,
            verified,
        )
    return not problems


def shortcuts_available() -> bool:
    """Tell whether to use the shortcuts: the setting allows them and the internals match."""
    if not getattr(settings, "GRAPHQL_EXECUTION_SHORTCUTS", True):
        return False
    return _internals_match()


class PlainLeaf(NamedTuple):
    """How to read and coerce one plain leaf field."""

    read: Callable[[Any], Any]
    coerce: Callable[[Any], Any]
    non_null: bool


# GraphQLObjectType -> {field name: PlainLeaf}; built once per type, gone with its schema.
_plain_by_type: WeakKeyDictionary[GraphQLObjectType, dict[str, PlainLeaf]] = WeakKeyDictionary()


def _column_reader(field: StrawberryDjangoField, model: Any) -> Callable[[Any], Any] | None:
    attribute = getattr(model, field.django_name or field.python_name, None)
    if type(attribute) is not DeferredAttribute:  # relations, properties, file fields
        return None
    attname = attribute.field.attname

    def read(source: Any) -> Any:
        try:
            return source.__dict__.get(attname, _MISSING)
        except AttributeError:  # not a model instance
            return _MISSING

    return read


def _attribute_reader(field: StrawberryField) -> Callable[[Any], Any] | None:
    if field.default_resolver is not getattr:
        return None
    get = operator.attrgetter(field.python_name)

    def read(source: Any) -> Any:
        try:
            return get(source)
        except AttributeError:
            return _MISSING

    return read


def _coercer(leaf_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(leaf_type, GraphQLEnumType):
        wrapped = getattr(leaf_type, "wrapped_cls", None)
        if wrapped is None:
            return None
        # strawberry's enum coercion scans the values for every member it serializes
        try:
            names = {value.value: name for name, value in leaf_type.values.items()}
        except TypeError:  # an unhashable value
            return leaf_type.coerce_output_value
        fallback = leaf_type.coerce_output_value

        def coerce_enum(value: Any) -> Any:
            name = names.get(value.value) if isinstance(value, wrapped) else None
            return name if name is not None else fallback(value)

        return coerce_enum
    if isinstance(leaf_type, GraphQLScalarType):
        return leaf_type.coerce_output_value
    return None


def _plain_leaf(graphql_field: Any, model: Any) -> PlainLeaf | None:
    field = (graphql_field.extensions or {}).get("strawberry-definition")
    if not isinstance(field, StrawberryField) or field.base_resolver is not None:
        return None
    if field.extensions or graphql_field.args:
        return None
    return_type = graphql_field.type
    non_null = isinstance(return_type, GraphQLNonNull)
    coerce = _coercer(return_type.of_type if non_null else return_type)
    if coerce is None:
        return None
    if isinstance(field, StrawberryDjangoField):
        read = _column_reader(field, model) if model is not None else None
    else:
        read = _attribute_reader(field)
    return None if read is None else PlainLeaf(read, coerce, non_null)


def plain_leaf_fields(object_type: GraphQLObjectType) -> dict[str, PlainLeaf]:
    """The plain leaf fields of ``object_type`` by GraphQL name (computed once per type)."""
    known = _plain_by_type.get(object_type)
    if known is not None:
        return known
    definition = (object_type.extensions or {}).get("strawberry-definition")
    model = getattr(getattr(definition, "origin", None), "__strawberry_django_definition__", None)
    model = getattr(model, "model", None)
    plain = {}
    for name, graphql_field in object_type.fields.items():
        leaf = _plain_leaf(graphql_field, model)
        if leaf is not None:
            plain[name] = leaf
    _plain_by_type[object_type] = plain
    return plain


class DirectField(NamedTuple):
    """A field whose lean resolver ``ExecutionShortcuts`` calls and completes itself."""

    resolve: Callable[[Any, Any], Any]
    field_def: GraphQLField
    return_type: Any
    coerce: Callable[[Any], Any] | None  # leaf types
    object_type: GraphQLObjectType | None  # object types
    nullable: bool
    item_type: GraphQLObjectType | None = None  # lists of objects
    items_nullable: bool = True


_direct_by_type: WeakKeyDictionary[GraphQLObjectType, dict[str, DirectField]] = WeakKeyDictionary()


def direct_fields(object_type: GraphQLObjectType) -> dict[str, DirectField]:
    """The fields of ``object_type`` with a lean resolver and a leaf or object type, by name."""
    known = _direct_by_type.get(object_type)
    if known is not None:
        return known
    direct = {}
    for name, graphql_field in object_type.fields.items():
        resolve = graphql_field.resolve
        if not getattr(resolve, "lean_resolver", False) or graphql_field.args:
            continue
        return_type = graphql_field.type
        named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        nullable = not isinstance(return_type, GraphQLNonNull)
        if isinstance(named, GraphQLList):
            item = named.of_type
            items_nullable = not isinstance(item, GraphQLNonNull)
            item = item if items_nullable else item.of_type
            if isinstance(item, GraphQLObjectType):
                direct[name] = DirectField(
                    resolve, graphql_field, return_type, None, None, nullable, item, items_nullable
                )
            continue
        coerce = _coercer(named)
        object_kind = named if isinstance(named, GraphQLObjectType) else None
        if coerce is not None or object_kind is not None:
            direct[name] = DirectField(
                resolve, graphql_field, return_type, coerce, object_kind, nullable
            )
    _direct_by_type[object_type] = direct
    return direct


class LazyResolveInfo:
    """graphql-core's ``GraphQLResolveInfo`` for one field, built on first use.

    A lean resolver that takes ``info`` but reads it only on a rare path (a DataLoader for
    an object not loaded with its rows) does not pay for building it on every call.
    """

    __slots__ = ("_built", "_executor", "_field_def", "_details", "_parent_type", "_path")

    def __init__(
        self,
        executor: Any,
        field_def: GraphQLField,
        details: Any,
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> None:
        self._executor = executor
        self._field_def = field_def
        self._details = details
        self._parent_type = parent_type
        self._path = path
        self._built: Any = None

    def real(self) -> Any:
        """Return the ``GraphQLResolveInfo`` (built once)."""
        if self._built is None:
            self._built = self._executor.build_resolve_info(
                self._field_def, to_nodes(self._details), self._parent_type, self._path
            )
        return self._built

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


def _lean_resolver(field: StrawberryField, info_class: type) -> Callable[..., Any] | None:
    """A direct call of ``field``'s resolver, or None when strawberry's wrapper has work to do."""
    resolver = field.base_resolver
    if resolver is None or field.extensions or field.arguments:
        return None
    if isinstance(field, StrawberryDjangoField) and not getattr(
        resolver.wrapped_func, "is_async_safe", False
    ):
        return None
    func = resolver.wrapped_func
    if not callable(func):  # strawberry raises its own error for these
        return None
    takes_self = resolver.self_parameter is not None
    source_names = tuple(
        parameter.name
        for parameter in (resolver.root_parameter, resolver.parent_parameter)
        if parameter is not None
    )
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None

    def resolve(source: Any, info: Any, **_: Any) -> Any:
        kwargs = dict.fromkeys(source_names, source)
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        return func(source, **kwargs) if takes_self else func(**kwargs)

    resolve.lean_resolver = True  # type: ignore[attr-defined]  # read by direct_fields
    return resolve


def install_lean_resolvers(schema: Any) -> list[str]:
    """Call simple resolvers of ``schema``'s object types directly; return the fields changed.

    Root operation types are left alone (their fields run once per request).
    """
    if getattr(schema.schema_converter, "_exception_handler_specs", None):
        return []  # exception handlers wrap every resolver: keep strawberry's wrappers
    graphql_schema = schema._schema
    roots = {
        graphql_schema.query_type,
        graphql_schema.mutation_type,
        graphql_schema.subscription_type,
    }
    info_class = schema.config.info_class
    changed = []
    for object_type in graphql_schema.type_map.values():
        if not isinstance(object_type, GraphQLObjectType) or object_type in roots:
            continue
        if object_type.name.startswith("__"):
            continue
        for name, graphql_field in object_type.fields.items():
            field = (graphql_field.extensions or {}).get("strawberry-definition")
            if not isinstance(field, StrawberryField) or graphql_field.args:
                continue
            lean = _lean_resolver(field, info_class)
            if lean is not None:
                graphql_field.resolve = lean
                changed.append(f"{object_type.name}.{name}")
    return changed


class ExecutionShortcuts(StrawberryGraphQLCoreExecutionContext):
    """An execution context that reads plain leaf fields directly (see the module doc).

    It also goes straight from a field's object value to its sub-fields, skipping three
    layers of graphql-core calls per object that only matter for ``@defer`` (which this
    schema does not enable) and for error paths (which still take graphql-core's code).
    """

    def _shortcuts_allowed(self, position_context: Any) -> bool:
        middleware = self.middleware_manager
        return position_context is None and (middleware is None or not middleware.middlewares)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if not self._shortcuts_allowed(position_context):
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plan = self._plan(parent_type, grouped_field_set)
        type_name = parent_type.name
        is_awaitable = self.is_awaitable
        execute_field = self.execute_field
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, leaf, direct in plan:
                if leaf is not None:
                    value = leaf.read(source_value)
                    if value is None:
                        if not leaf.non_null:
                            results[response_name] = None
                            continue
                    elif value is not _MISSING:
                        try:
                            coerced = leaf.coerce(value)
                        except Exception:  # graphql-core's path below reports it
                            coerced = None
                        if coerced is not None and coerced is not Undefined:
                            results[response_name] = coerced
                            continue
                if direct is not None:
                    result = self._execute_direct(
                        direct,
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, type_name),
                    )
                else:
                    result = execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, type_name),
                        position_context,
                    )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:  # settle what other fields started, as graphql-core does
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gather_fields(results, awaitable_fields)

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: Any
    ) -> list[tuple[str, Any, PlainLeaf | None, DirectField | None]]:
        """How to execute each field of ``grouped_field_set``, worked out once per request.

        graphql-core collects the same field set object for every object of a list (it
        memoizes ``collect_subfields``), so it is the key; it is kept with its plan so that
        its ``id`` cannot be reused while the request runs.
        """
        plans = self.__dict__.setdefault("_field_plans", {})
        key = (parent_type, id(grouped_field_set))
        known = plans.get(key)
        if known is not None and known[0] is grouped_field_set:
            return known[1]  # type: ignore[no-any-return]
        plain = plain_leaf_fields(parent_type)
        directs = direct_fields(parent_type)
        plan = []
        for response_name, field_details_list in grouped_field_set.items():
            name = field_details_list[0].node.name.value
            plan.append((response_name, field_details_list, plain.get(name), directs.get(name)))
        plans[key] = (grouped_field_set, plan)
        return plan

    def _execute_direct(
        self,
        direct: DirectField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
    ) -> Any:
        """``execute_field`` for a lean resolver, without building its info unless read.

        A leaf value is coerced and an object value goes straight to its sub-fields; anything
        else (null, an awaitable, a list, a value that does not coerce or fails
        ``is_type_of``) is completed by graphql-core with the real info, and an error is
        reported exactly as ``execute_field`` does.
        """
        info: Any = LazyResolveInfo(self, direct.field_def, field_details_list, parent_type, path)
        try:
            value = direct.resolve(source, info)
            if value is None and direct.nullable:
                return None
            if value is not None and not self.is_awaitable(value):
                if direct.coerce is not None:
                    try:
                        coerced = direct.coerce(value)
                    except Exception:  # graphql-core's completion below reports it
                        coerced = None
                    if coerced is not None and coerced is not Undefined:
                        return coerced
                elif direct.item_type is not None:
                    if type(value) is list and not field_details_list[0].node.directives:
                        items = self._complete_object_items(
                            direct, value, info, path, field_details_list
                        )
                        if items is not None:
                            return items
                elif direct.object_type is not None and not isinstance(value, Exception):
                    object_type = direct.object_type
                    is_type_of = object_type.is_type_of
                    matches = True if is_type_of is None else is_type_of(value, info)
                    if iscoroutine(matches):  # asynchronous checks are graphql-core's to run
                        matches.close()
                    if matches is True:
                        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
                            object_type, field_details_list
                        )
                        if not new_defer_usages:
                            return self.execute_fields(
                                object_type, value, path, grouped_field_set, None
                            )
            return self._complete_resolved(
                direct.return_type, field_details_list, info, path, value
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, direct.return_type, field_details_list, path)
            return None

    def _complete_object_items(
        self,
        direct: DirectField,
        items: list[Any],
        info: Any,
        path: Path,
        field_details_list: Any,
    ) -> Any:
        """Complete a list of objects as ``complete_iterable_value`` would, or return None.

        None (graphql-core completes the list) unless every item is an object that passes
        its type's ``is_type_of``; an item's error is reported as ``complete_list_item_value``
        does. ``@stream`` (a directive on the field) also leaves the list to graphql-core.
        """
        item_type = direct.item_type
        assert item_type is not None
        is_type_of = item_type.is_type_of
        is_awaitable = self.is_awaitable
        for item in items:
            if item is None or is_awaitable(item) or isinstance(item, Exception):
                return None
            if is_type_of is not None:
                matches = is_type_of(item, info)
                if iscoroutine(matches):
                    matches.close()
                if matches is not True:
                    return None
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            item_type, field_details_list
        )
        if new_defer_usages:
            return None
        item_return_type = item_type if direct.items_nullable else GraphQLNonNull(item_type)
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        execute_fields = self.execute_fields
        try:
            for index, item in enumerate(items):
                item_path = path.add_key(index, None)
                try:
                    result = execute_fields(item_type, item, item_path, grouped_field_set, None)
                except Exception as raw_error:
                    self.handle_field_error(
                        raw_error, item_return_type, field_details_list, item_path
                    )
                    result = None
                if is_awaitable(result):
                    result = self._settled_item(
                        result, item_return_type, field_details_list, item_path
                    )
                    awaitable_indices.append(index)
                completed.append(result)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed
        return _gather_items(completed, awaitable_indices)

    async def _settled_item(
        self, awaitable: Any, item_type: Any, field_details_list: Any, item_path: Path
    ) -> Any:
        try:
            return await awaitable
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, field_details_list, item_path)
            return None

    def _complete_resolved(
        self,
        return_type: Any,
        field_details_list: Any,
        info: LazyResolveInfo,
        path: Path,
        value: Any,
    ) -> Any:
        """What ``execute_field`` does with a resolver's value (its errors: the caller's)."""
        real = info.real()
        if self.is_awaitable(value):
            return self.complete_awaitable_value(
                return_type, field_details_list, real, path, value, None
            )
        completed = self.complete_value(return_type, field_details_list, real, path, value, None)
        if not self.is_awaitable(completed):
            return completed

        async def await_completed() -> Any:
            try:
                return await completed
            except Exception as raw_error:
                self.handle_field_error(raw_error, return_type, field_details_list, path)
                return None

        return await_completed()

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if result is not None and self._shortcuts_allowed(position_context):
            object_type = (
                return_type.of_type if type(return_type) is GraphQLNonNull else return_type
            )
            if type(object_type) is GraphQLObjectType and not isinstance(result, Exception):
                is_type_of = object_type.is_type_of
                matches = True if is_type_of is None else is_type_of(result, info)
                if iscoroutine(matches):  # asynchronous checks are graphql-core's to run
                    matches.close()
                if matches is True:
                    grouped_field_set, new_defer_usages, _ = self.collect_subfields(
                        object_type, field_details_list
                    )
                    if not new_defer_usages:
                        return self.execute_fields(
                            object_type, result, path, grouped_field_set, None
                        )
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )


async def _gather_fields(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """Await the fields that returned awaitables, together, and put their values in place."""
    if len(awaitable_fields) == 1:
        name = awaitable_fields[0]
        results[name] = await results[name]
    else:
        values = await gather_with_cancel(*(results[name] for name in awaitable_fields))
        results.update(zip(awaitable_fields, values, strict=True))
    return results


async def _gather_items(completed: list[Any], awaitable_indices: list[int]) -> list[Any]:
    """Await the list items that returned awaitables, together, and put them in place."""
    values = await gather_with_cancel(*(completed[index] for index in awaitable_indices))
    for index, value in zip(awaitable_indices, values, strict=True):
        completed[index] = value
    return completed
