"""Limits on a GraphQL document, checked in time linear in its size before any other rule.

A fragment may be spread many times, and a spread fragment may spread others: a document
of under 1 KB (``fragment F0 { ...F1 ...F1 } fragment F1 { ...F2 ...F2 } ...``) stands for
millions of fields. Walking the fragments once per spread, as strawberry's depth and alias
limiters do, doubles the cost with each line of such a document. Here every fragment is
measured once (depth, aliases, fields once spread), and an operation's figures add up its
own fields and the measures of the fragments it spreads.

``check_document`` refuses, before graphql-core's rules run:

- more than ``MAX_FRAGMENTS`` fragment definitions;
- an operation that selects more than ``MAX_EXPANDED_FIELDS`` fields once every fragment
  spread is replaced by its fields (the work of the other rules, of the query optimizer and
  of execution grows with that number, not with the document's length);
- more than ``MAX_SAME_RESPONSE_KEY`` fields merged into one response key (one path of
  response names, fragments expanded): graphql-core's overlapping-fields check compares
  every pair of them, so this bounds its work to ``MAX_SAME_RESPONSE_KEY`` times the
  number of fields.

The depth and alias limits are reported with graphql-core's own errors, as strawberry's
limiters word them, since the document is then small enough to validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

MAX_QUERY_DEPTH = 10
MAX_ALIASES = 30
MAX_FRAGMENTS = 100
MAX_EXPANDED_FIELDS = 1000
MAX_SAME_RESPONSE_KEY = 10
# Figures beyond any limit are clamped, so a fan-out does not build thousand-digit numbers.
_CEILING = 10**9


@dataclass
class _Measure:
    """What one selection set amounts to once its fragment spreads are expanded."""

    depth: int = 0
    aliases: int = 0
    fields: int = 0


@dataclass
class DocumentMeasure:
    """Figures of a document; ``fragments_measured`` counts fragment walks (once each)."""

    # Size errors stop validation; depth and alias errors join graphql-core's.
    size_errors: list[GraphQLError] = field(default_factory=list)
    errors: list[GraphQLError] = field(default_factory=list)
    fragments_measured: int = 0
    selections_walked: int = 0


class _Measurer:
    """Measure selection sets, each fragment once (memoized; a cycle counts as empty)."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], report: DocumentMeasure):
        self.fragments = fragments
        self.report = report
        self.measured: dict[str, _Measure] = {}
        self.in_progress: set[str] = set()

    def fragment(self, name: str) -> _Measure:
        measure = self.measured.get(name)
        if measure is not None:
            return measure
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            return _Measure()  # unknown fragments and cycles are graphql-core's to report
        self.in_progress.add(name)
        self.report.fragments_measured += 1
        measure = self.selection_set(definition.selection_set)
        self.in_progress.discard(name)
        self.measured[name] = measure
        return measure

    def selection_set(self, selection_set: SelectionSetNode) -> _Measure:
        total = _Measure()
        for selection in selection_set.selections:
            self.report.selections_walked += 1
            if isinstance(selection, FieldNode):
                total.fields += 1
                if selection.alias is not None:
                    total.aliases += 1
                if selection.selection_set is not None:
                    inner = self.selection_set(selection.selection_set)
                    total.fields += inner.fields
                    total.aliases += inner.aliases
                    # Introspection fields count for their own level only (as strawberry's
                    # depth limiter counts them).
                    if not selection.name.value.startswith("__"):
                        total.depth = max(total.depth, 1 + inner.depth)
                continue
            if isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            total.fields += inner.fields
            total.aliases += inner.aliases
            total.depth = max(total.depth, inner.depth)
        total.fields = min(total.fields, _CEILING)
        total.aliases = min(total.aliases, _CEILING)
        return total


def _response_keys_within_limit(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    report: DocumentMeasure,
) -> str | None:
    """The first response path selected more than ``MAX_SAME_RESPONSE_KEY`` times, or None.

    Walks the expanded operation, so call it only once its field count is within limits.
    """
    counts: dict[tuple[str, ...], int] = {}
    # (selection set, response path of its parent, fragments spread on the way there)
    stack: list[tuple[SelectionSetNode, tuple[str, ...], frozenset[str]]] = [
        (operation.selection_set, (), frozenset())
    ]
    while stack:
        selection_set, path, spread = stack.pop()
        for selection in selection_set.selections:
            report.selections_walked += 1
            if isinstance(selection, FieldNode):
                key = (*path, (selection.alias or selection.name).value)
                counts[key] = counts.get(key, 0) + 1
                if counts[key] > MAX_SAME_RESPONSE_KEY:
                    return ".".join(key)
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, key, spread))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, path, spread))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                definition = fragments.get(name)
                if definition is not None and name not in spread:
                    stack.append((definition.selection_set, path, spread | {name}))
    return None


def _figure(count: int) -> str:
    return f"more than {_CEILING:,}" if count >= _CEILING else str(count)


def measure_document(document: DocumentNode) -> DocumentMeasure:
    """Check ``document`` against the limits; every fragment is walked once."""
    report = DocumentMeasure()
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
    fragment_count = sum(isinstance(d, FragmentDefinitionNode) for d in document.definitions)
    if fragment_count > MAX_FRAGMENTS:
        report.size_errors.append(
            GraphQLError(f"{fragment_count} fragments found. Allowed: {MAX_FRAGMENTS}")
        )
        return report
    measurer = _Measurer(fragments, report)
    measures = []
    for operation in operations:
        name = operation.name.value if operation.name else "anonymous"
        measure = measurer.selection_set(operation.selection_set)
        if measure.fields > MAX_EXPANDED_FIELDS:
            report.size_errors.append(
                GraphQLError(
                    f"'{name}' selects {_figure(measure.fields)} fields once its fragments "
                    f"are expanded. Allowed: {MAX_EXPANDED_FIELDS}",
                    operation,
                )
            )
            continue
        repeated = _response_keys_within_limit(operation, fragments, report)
        if repeated is not None:
            report.size_errors.append(
                GraphQLError(
                    f"'{name}' selects '{repeated}' more than {MAX_SAME_RESPONSE_KEY} times.",
                    operation,
                )
            )
            continue
        measures.append((name, operation, measure))
    if report.size_errors:
        return report
    # The same wording as strawberry's QueryDepthLimiter and MaxAliasesLimiter.
    for name, operation, measure in measures:
        if measure.depth > MAX_QUERY_DEPTH:
            report.errors.append(
                GraphQLError(
                    f"'{name}' exceeds maximum operation depth of {MAX_QUERY_DEPTH}", operation
                )
            )
    aliases = sum(measure.aliases for _, _, measure in measures)
    if aliases > MAX_ALIASES:
        report.errors.append(
            GraphQLError(f"{_figure(aliases)} aliases found. Allowed: {MAX_ALIASES}")
        )
    return report


@lru_cache(maxsize=256)
def validate_within_limits(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
) -> list[GraphQLError]:
    """Return the document's validation errors; the size limits first, and alone if broken.

    A document over the size limits (fragments, expanded fields, repeated response keys)
    gets only those errors: graphql-core's rules never see it. Depth and aliases are
    reported with the other rules' errors. Cached by document (the parser cache hands the
    same document object for the same text) and rules.
    """
    report = measure_document(document)
    if report.size_errors:
        return report.size_errors
    return [*report.errors, *validate_document(schema, document, rules)]


class DocumentLimits(SchemaExtension):
    """Validate with the size, depth and alias limits (``validate_within_limits``), cached.

    It replaces strawberry's ``ValidationCache``: the limits must run before the other
    rules, which that extension would run unconditionally.
    """

    def on_validate(self) -> Any:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = validate_within_limits(
            context.schema._schema, context.graphql_document, tuple(context.validation_rules)
        )
        yield


class NoIntrospection(ASTValidationRule):
    """Refuse introspection (``__schema``, ``__type``) with one error, whatever it asks for.

    graphql-core's ``NoSchemaIntrospectionCustomRule`` reports every introspection field;
    one refusal with a code tells a client all it needs.
    """

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.reported = False

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if self.reported or node.name.value not in ("__schema", "__type"):
            return
        self.reported = True
        self.report_error(
            GraphQLError(
                "GraphQL introspection has been disabled, but the requested query contained "
                f"the field '{node.name.value}'.",
                node,
                extensions={"code": "INTROSPECTION_DISABLED"},
            )
        )
