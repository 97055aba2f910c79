"""Refuse NUL characters anywhere in a request's input, before anything reads the database.

PostgreSQL stores no NUL in text or jsonb and refuses it even in a lookup, so a NUL in any
argument (a filter, a name, a model label) would surface as a database error. Services
check what they store (``backend.workflows.input_limits``); this guard covers every
argument and variable at once, with the path of the offending input.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    ExecutionResult,
    GraphQLError,
    ObjectFieldNode,
    StringValueNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension

from backend.workflows.constants import ErrorCode


def _nul_path_in_value(value: Any, path: str) -> str | None:
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return where
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return None


class _LiteralFinder(Visitor):
    """Find the first string literal holding a NUL; its path is argument and field names."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.found: str | None = None

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, *_: Any) -> None:
        self.names.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, *_: Any) -> None:
        self.names.pop()

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if "\x00" in node.value:
            self.found = ".".join(self.names) or "query"
            return Visitor.BREAK
        return None


# The answer for each parsed document's literals, by identity (an AST node's hash walks the
# whole tree): documents are parsed once per text (an LRU cache in schema/schema.py) and
# never changed, so a repeated document is not walked again; an entry goes with its document.
_literal_paths: dict[int, tuple[weakref.ref[Any], str | None]] = {}


def _nul_literal_path(document: Any) -> str | None:
    key = id(document)
    known = _literal_paths.get(key)
    if known is not None and known[0]() is document:
        return known[1]
    finder = _LiteralFinder()
    visit(document, finder)
    _literal_paths[key] = (
        weakref.ref(document, lambda _, key=key: _literal_paths.pop(key, None)),  # type: ignore[misc]
        finder.found,
    )
    return finder.found


def nul_input_path(document: Any, variables: dict[str, Any] | None) -> str | None:
    """Return the path of the first input holding a NUL character, or None."""
    for name, value in (variables or {}).items():
        path = _nul_path_in_value(value, name)
        if path is not None:
            return path
    return _nul_literal_path(document)


class RefuseNulCharacters(SchemaExtension):
    """Answer VALIDATION_ERROR, with the input's path, to a request holding a NUL character."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            path = nul_input_path(context.graphql_document, context.variables)
            if path is not None:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            "Text may not contain NUL characters.",
                            extensions={"code": ErrorCode.VALIDATION_ERROR.value, "field": path},
                        )
                    ],
                )
        yield
