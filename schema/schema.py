"""Assemble the schema with its security limits and the query optimizer."""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Any

from django.conf import settings
from strawberry import Schema
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.types.base_scalars import DateTimeDefinition

from schema.errors import MaskUnexpectedErrors, log_errors
from schema.execution.document_limits import (
    MAX_ALIASES,
    MAX_EXPANDED_FIELDS,
    MAX_FRAGMENTS,
    MAX_QUERY_DEPTH,
    MAX_SAME_RESPONSE_KEY,
    DocumentLimits,
    NoIntrospection,
)
from schema.execution.event_sharing import SharedEventExecutionContext
from schema.execution.fast_fields import (
    ExecutionShortcuts,
    install_lean_resolvers,
    shortcuts_available,
)
from schema.execution.input_guard import RefuseNulCharacters
from schema.execution.optimizer import QueryOptimizerExtension
from schema.execution.structure_cache import StructureCache
from schema.root import TYPES, Mutation, Query, Subscription

MAX_TOKENS = 2000
CACHED_DOCUMENTS = 256
__all__ = [
    "MAX_ALIASES",
    "MAX_EXPANDED_FIELDS",
    "MAX_FRAGMENTS",
    "MAX_QUERY_DEPTH",
    "MAX_SAME_RESPONSE_KEY",
    "MAX_TOKENS",
    "build_schema",
    "introspection_schema",
    "schema",
    "schema_for_settings",
]


# strawberry's own DateTime, with the specification it follows (clients map it by that URL);
# its parser keeps a malformed value an input error.
DATETIME = dataclasses.replace(
    DateTimeDefinition,
    description="Date with time (ISO 8601, RFC 3339), e.g. 2026-12-01T17:36:54.123456+00:00.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
)


class WorkflowSchema(Schema):
    """Strawberry's schema, logging errors through ``schema.errors.log_errors``.

    Strawberry logs every error with its traceback (a refused decision made 50 lines);
    expected errors are one line, unexpected ones keep the traceback and an incident id.
    """

    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        log_errors(errors)


class ExecutionContext(StructureCache, ExecutionShortcuts, SharedEventExecutionContext):
    """The execution shortcuts of ``schema.execution.fast_fields``; pushed events rendered once per
    document; the ``workflows`` list served from ``schema.execution.structure_cache``."""


class PlainExecutionContext(StructureCache, SharedEventExecutionContext):
    """graphql-core's and strawberry's own execution, with the same caches."""


def introspection_enabled() -> bool:
    """Introspection and field suggestions are for development unless a setting allows them."""
    return bool(getattr(settings, "GRAPHQL_INTROSPECTION", settings.DEBUG))


def build_schema(*, introspection: bool | None = None, shortcuts: bool | None = None) -> Schema:
    """Build the schema; ``introspection`` overrides the setting (the SDL export uses it).

    ``shortcuts=False`` builds it without ``schema.execution.fast_fields`` (plain graphql-core and
    strawberry execution): the tests compare both, field by field. By default they are on
    when ``schema.execution.fast_fields.shortcuts_available()`` says so.
    """
    if shortcuts is None:
        shortcuts = shortcuts_available()
    allow = introspection_enabled() if introspection is None else introspection
    # Factories, so every request gets fresh extension instances.
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: MaskUnexpectedErrors(suggestions=allow),
        lambda: QueryOptimizerExtension(),
        # Parsing and validating a document costs milliseconds; clients send the same few
        # documents (1,000 subscribers reconnecting after a deploy would otherwise pay it
        # 1,000 times). Bounded LRU caches, keyed by the document text. DocumentLimits
        # checks the size limits in linear time before graphql-core's rules, then validates
        # (cached) with the depth and alias limits.
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        DocumentLimits,
        RefuseNulCharacters,
    ]
    if not allow:
        extensions.insert(0, lambda: AddValidationRules([NoIntrospection]))
    built = WorkflowSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=TYPES,
        extensions=extensions,
        config=StrawberryConfig(
            disable_field_suggestions=not allow, scalar_map={datetime: DATETIME}
        ),
        execution_context_class=ExecutionContext if shortcuts else PlainExecutionContext,
    )
    if shortcuts:
        install_lean_resolvers(built)
    return built


# The served schema is chosen per request (``schema_for_settings``), so the settings decide
# introspection at request time rather than at import time.
schema = build_schema(introspection=False)
"""The production schema: no introspection, no field suggestions."""


@functools.cache
def introspection_schema() -> Schema:
    """Return the same schema with introspection and field suggestions (built on first use)."""
    return build_schema(introspection=True)


def schema_for_settings() -> Schema:
    """Return the schema the current settings ask for: ``DEBUG`` or ``GRAPHQL_INTROSPECTION``."""
    return introspection_schema() if introspection_enabled() else schema
