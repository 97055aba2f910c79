"""Remember the ``workflows`` list of a company until its templates change.

Templates change rarely and running copies are never listed, yet the full nested
``workflows`` query rebuilds the same answer at every request (the ORM page with its
prefetches and about 15,000 fields for 50 workflows of 5 x 5 stages). ``StructureCache`` (a
mixin of the schema's execution context) keeps the *completed* result of the root field
``workflows`` (the JSON-ready value graphql-core puts under ``data.workflows``) in a bounded
per-process LRU, and serves it again while nothing it shows has changed:

- **Which changes.** The key holds the two markers of ``backend.workflows.structure_markers``,
  read from the database in one small query before anything else of the field: the company's
  template marker and the marker of the users, roles, forms and departments templates show.
  Database triggers change them at every write of those rows (services, admin, ``save()``,
  ``QuerySet.update()``, raw SQL), so the first request after a change misses and answers
  fresh, in every process. Running copies have no effect on templates' markers.
- **Which documents.** Only a selection made entirely of fields that read nothing but those
  rows is cached: ``CACHEABLE_FIELDS`` lists them, from the root field down to approvals'
  users, roles and forms. A selection with any other field, a type condition on an interface,
  arguments below the root or a directive other than ``@include``/``@skip`` takes the normal
  path, as does the root field with ``companyId`` (a superuser's look at another company).
  A resolver that reads a row no marker watches (a pipeline's department of another model than
  ``DEPARTMENT_MODEL``) calls ``uncovered_read()``, and that answer is not kept.
- **Which viewer.** The key holds the viewer's company, the document text, the operation name,
  the response name and every variable value. Before serving an entry, the viewer must pass
  the same check the resolver makes (signed in, with a company): nothing else of the answer
  depends on who asks.
- **Same bytes.** The entry is the value graphql-core completed, served as is. A result that
  carried an error anywhere under the field is never kept.

Settings: ``GRAPHQL_STRUCTURE_CACHE`` (default True) turns it off; ``GRAPHQL_STRUCTURE_CACHE_BYTES``
(default 64 MiB) bounds each process's entries by the size of their JSON (the Python objects
take about three to five times as much memory).
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import json
import threading
import uuid
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    get_named_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from backend.workflows.structure_markers import structure_markers

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
ROOT_FIELD = "workflows"
ROOT_ARGUMENTS = frozenset({"first", "last", "after", "before", "filter", "order"})
ALLOWED_DIRECTIVES = frozenset({"include", "skip"})
_NODE = frozenset({"id", "databaseId"})
# Every field that may be cached, by type: each reads only rows the markers watch.
CACHEABLE_FIELDS: dict[str, frozenset[str]] = {
    "WorkflowConnection": frozenset({"pageInfo", "edges", "totalCount"}),
    "WorkflowEdge": frozenset({"cursor", "node"}),
    "PageInfo": frozenset({"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}),
    "Workflow": _NODE
    | frozenset(
        {
            "nameEn",
            "nameAr",
            "slug",
            "description",
            "isActive",
            "isHidden",
            "createdAt",
            "modifiedAt",
            "pipelines",
            "status",
            "clonedFromId",
            "pipelinesCount",
            "totalStagesCount",
            "summary",
        }
    ),
    "WorkflowSummary": frozenset(
        {"totalPipelines", "totalStages", "totalApprovals", "pipelineBreakdown"}
    ),
    "PipelineBreakdown": frozenset(
        {"pipelineName", "pipelineOrder", "stagesCount", "approvalsCount"}
    ),
    "Pipeline": _NODE
    | frozenset({"nameEn", "nameAr", "order", "stages", "stagesCount", "department"}),
    "Stage": _NODE
    | frozenset(
        {
            "nameEn",
            "nameAr",
            "order",
            "color",
            "condition",
            "approvalsCount",
            "approvals",
            "clonedFromId",
        }
    ),
    "Approval": frozenset(
        {
            "approvalType",
            "approvalTypeDisplay",
            "roleSelectionStrategy",
            "strategyDisplay",
            "behaviour",
            "quorumCount",
            "percentageRequired",
            "dueIn",
            "remindBefore",
            "onTimeout",
            "user",
            "role",
            "requiredForm",
        }
    ),
    "OnTimeout": frozenset({"action", "user", "role"}),
    "User": _NODE | frozenset({"username", "displayName", "email"}),
    "Role": _NODE | frozenset({"name"}),
    "Form": _NODE | frozenset({"name", "schema"}),
    "Department": _NODE | frozenset({"name"}),
}


class _Coverage:
    """Whether everything the field read is watched by the markers (set by resolvers)."""

    __slots__ = ("covered",)

    def __init__(self) -> None:
        self.covered = True


_coverage: ContextVar[_Coverage | None] = ContextVar("structure_coverage", default=None)


def uncovered_read() -> None:
    """Tell the cache that the answer being built read a row no marker watches."""
    coverage = _coverage.get()
    if coverage is not None:
        coverage.covered = False


def cache_enabled() -> bool:
    return bool(getattr(settings, "GRAPHQL_STRUCTURE_CACHE", True))


def max_bytes() -> int:
    return int(getattr(settings, "GRAPHQL_STRUCTURE_CACHE_BYTES", DEFAULT_MAX_BYTES))


class StructureResults:
    """A per-process LRU of completed results, bounded by the size of their JSON."""

    def __init__(self) -> None:
        # (company, document, operation, response name, variables, settings) -> (markers, value, size)
        self._entries: OrderedDict[tuple, tuple[tuple, Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple, markers: tuple) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != markers:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple, markers: tuple, value: Any, size: int) -> None:
        limit = max_bytes()
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:  # an entry of older markers: replaced, never served again
                self._bytes -= old[2]
            if size > limit // 4:
                return
            self._entries[key] = (markers, value, size)
            self._bytes += size
            while self._bytes > limit and self._entries:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    @property
    def size(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


results = StructureResults()
# (document text, operation name, response name) -> whether the selection is cacheable
_plans: OrderedDict[tuple, bool] = OrderedDict()
_PLANS_MAX = 256


def _tagged(value: Any) -> Any:
    """JSON for a coerced variable value of a type JSON does not know; else not cacheable."""
    for kind in (datetime.datetime, datetime.date, datetime.time, decimal.Decimal, uuid.UUID):
        if isinstance(value, kind):
            return {"__type": kind.__name__, "value": str(value)}
    if isinstance(value, enum.Enum):
        return {"__type": type(value).__qualname__, "value": _tagged_plain(value.value)}
    raise TypeError(type(value).__name__)


def _tagged_plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return _tagged(value)


def variables_key(variables: dict[str, Any]) -> str | None:
    """Return every variable value as canonical JSON; None when one has an unknown type."""
    try:
        return json.dumps(variables, sort_keys=True, default=_tagged)
    except (TypeError, ValueError):
        return None


def _directives_allowed(node: Any) -> bool:
    return all(d.name.value in ALLOWED_DIRECTIVES for d in node.directives or ())


def _selection_cacheable(
    parent: GraphQLObjectType, selection_set: Any, fragments: dict[str, Any], seen: set[str]
) -> bool:
    allowed = CACHEABLE_FIELDS.get(parent.name, frozenset())
    for selection in selection_set.selections:
        if not _directives_allowed(selection):
            return False
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name == "__typename":
                continue
            if name not in allowed or selection.arguments:
                return False
            field = parent.fields[name]
            if selection.selection_set is not None:
                named = get_named_type(field.type)
                if not isinstance(named, GraphQLObjectType) or not _selection_cacheable(
                    named, selection.selection_set, fragments, seen
                ):
                    return False
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is not None and condition.name.value != parent.name:
                return False
            if not _selection_cacheable(parent, selection.selection_set, fragments, seen):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.type_condition.name.value != parent.name:
                return False
            if not _directives_allowed(fragment):
                return False
            if selection.name.value in seen:
                continue
            if not _selection_cacheable(
                parent, fragment.selection_set, fragments, {*seen, selection.name.value}
            ):
                return False
        else:
            return False
    return True


def root_field_cacheable(
    query_type: GraphQLObjectType, field_nodes: list[FieldNode], fragments: dict[str, Any]
) -> bool:
    """Tell whether every node of the root field selects only cacheable fields."""
    field = query_type.fields.get(ROOT_FIELD)
    if field is None:
        return False
    connection = get_named_type(field.type)
    if not isinstance(connection, GraphQLObjectType):
        return False
    for node in field_nodes:
        if node.name.value != ROOT_FIELD or node.selection_set is None:
            return False
        if not _directives_allowed(node):
            return False
        if any(argument.name.value not in ROOT_ARGUMENTS for argument in node.arguments or ()):
            return False
        if not _selection_cacheable(connection, node.selection_set, fragments, set()):
            return False
    return True


def _settings_key() -> tuple:
    engine = getattr(settings, "DJANGO_WORKFLOW_ENGINE", {}) or {}
    return (
        settings.AUTH_USER_MODEL,
        getattr(settings, "APPROVAL_ROLE_MODEL", None),
        getattr(settings, "APPROVAL_DYNAMIC_FORM_MODEL", None),
        engine.get("DEPARTMENT_MODEL"),
        engine.get("FORM_MODEL"),
    )


def json_size(value: Any) -> int | None:
    """Return the size of ``value``'s JSON (what bounds the cache); None if it has none."""
    try:
        return len(orjson.dumps(value))
    except TypeError:  # beyond orjson (a 65-bit integer in a JSON scalar): the slow way
        try:
            return len(json.dumps(value))
        except (TypeError, ValueError):
            return None


def _has_error_under(errors: list[Any], response_name: str) -> bool:
    return any(not error.path or error.path[0] == response_name for error in errors)


class StructureCache(StrawberryGraphQLCoreExecutionContext):
    """An execution context that serves the root ``workflows`` field from ``results``."""

    def execute_field(
        self,
        parent_type: Any,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        key = None
        if path.prev is None and position_context is None:
            key = self._cache_key(parent_type, field_details_list, path.key)
        if key is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        return self._cached_field(parent_type, source, field_details_list, path, key)

    def _cache_key(self, parent_type: Any, field_details_list: Any, response_name: str) -> Any:
        if parent_type is not self.schema.query_type or not cache_enabled():
            return None
        nodes = [details.node for details in field_details_list]
        if nodes[0].name.value != ROOT_FIELD:
            return None
        operation = self.operation
        if operation.loc is None:
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # executed synchronously: the markers cannot be awaited
            return None
        context = self.context_value
        company_id = getattr(context, "company_id", None)
        if company_id is None or not getattr(context, "is_authenticated", False):
            return None  # the resolver answers (or refuses) this viewer itself
        document = operation.loc.source.body
        operation_name = operation.name.value if operation.name else None
        plan_key = (document, operation_name, response_name)
        cacheable = _plans.get(plan_key)
        if cacheable is None:
            cacheable = root_field_cacheable(
                self.schema.query_type, nodes, self.fragment_definitions
            )
            _plans[plan_key] = cacheable
            while len(_plans) > _PLANS_MAX:
                _plans.popitem(last=False)
        if not cacheable:
            return None
        variables = variables_key(dict(self.variable_values.coerced))
        if variables is None:
            return None
        return (company_id, document, operation_name, response_name, variables, _settings_key())

    async def _cached_field(
        self, parent_type: Any, source: Any, field_details_list: Any, path: Any, key: tuple
    ) -> Any:
        markers = await sync_to_async(structure_markers)(key[0])
        if markers is None:  # no markers on this database: never cached
            result = super().execute_field(parent_type, source, field_details_list, path, None)
            return await result if self.is_awaitable(result) else result
        entry = results.get(key, markers)
        if entry is not None:
            return entry[1]
        coverage = _Coverage()
        token = _coverage.set(coverage)
        try:
            result = super().execute_field(parent_type, source, field_details_list, path, None)
            if self.is_awaitable(result):
                result = await result
        finally:
            _coverage.reset(token)
        if coverage.covered and not _has_error_under(self.collected_errors.errors, path.key):
            size = json_size(result)
            if size is not None:
                results.put(key, markers, result, size)
        return result
