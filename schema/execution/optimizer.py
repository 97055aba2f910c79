"""The query optimizer, without the hook it would run around every field."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from graphql import OperationType
from strawberry.extensions import SchemaExtension
from strawberry_django.optimizer import DjangoOptimizerExtension, OptimizerConfig, optimize

from backend.workflows.models import Pipeline, Stage, Workflow

# Models whose GraphQL types declare, on every field, the columns it reads (a plain column
# field, or ``only=`` on a resolver): their queries may select just the columns the query
# asks for. Other types have resolvers that read columns no hint names, which a deferred
# column would turn into one query per object (refused under async execution).
COLUMN_HINTED_MODELS = frozenset({Workflow, Pipeline, Stage})
# Columns loaded whatever the query selects: a workflow's ``summary``, ``totalStagesCount``
# and ``pipelinesCount`` read them from the pipelines and stages prefetched for the query's
# own ``pipelines { stages }`` selection, which may name none of them (strawberry-django
# does not carry a field's ``only`` hints two relations down).
ALWAYS_LOADED: dict[Any, frozenset[str]] = {
    Pipeline: frozenset({"name_en", "order"}),
    Stage: frozenset({"approvals"}),
}


def _keep_always_loaded(queryset: QuerySet[Any]) -> None:
    """Add ``ALWAYS_LOADED`` columns to narrowed ``queryset`` and its prefetches, in place.

    Called on querysets the optimizer has just built for this request (nobody shares them).
    """
    names, deferring = queryset.query.deferred_loading
    extra = ALWAYS_LOADED.get(queryset.model)
    if extra and names and not deferring:  # only() is in effect: load these too
        queryset.query.deferred_loading = (frozenset(names) | extra, False)
    for lookup in queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
        if isinstance(lookup, Prefetch) and lookup.queryset is not None:
            _keep_always_loaded(lookup.queryset)


class QueryOptimizerExtension(DjangoOptimizerExtension):
    """strawberry-django's optimizer minus its per-field ``resolve`` hook.

    The hook optimizes QuerySets that plain resolvers return. Every field here that returns a
    QuerySet is a strawberry-django field, which optimizes it itself (through this extension,
    found in a context variable set for the operation), so the hook only cost time: with it,
    strawberry wraps every field of every response in graphql-core middleware (about 30,000
    calls for a page of 100 workflows of 5 x 5 stages). ``tests/api/test_graphql_query_counts.py``
    shows the queries are unchanged.

    A query whose rows are workflows, pipelines or stages (``COLUMN_HINTED_MODELS``) selects
    only the columns its fields read, and so do its prefetches: a page of 100 workflows of
    5 x 5 stages no longer converts 6,000 timestamps and 2,500 stage conditions nobody asked
    for. Other queries keep every column.
    """

    resolve = SchemaExtension.resolve  # type: ignore[assignment]

    def optimize(
        self,
        qs: Any,
        info: Any,
        *,
        store: Any = None,
    ) -> QuerySet[Any]:
        if not self.enabled.get():
            return qs  # type: ignore[no-any-return]
        config = OptimizerConfig(
            enable_only=(
                self.enable_only
                and qs.model in COLUMN_HINTED_MODELS
                and info.operation.operation == OperationType.QUERY
            ),
            enable_select_related=self.enable_select_related,
            enable_prefetch_related=self.enable_prefetch_related,
            enable_annotate=self.enable_annotate_optimization,
            prefetch_custom_queryset=self.prefetch_custom_queryset,
        )
        optimized = optimize(qs, info, config=config, store=store)
        if config.enable_only and isinstance(optimized, QuerySet):
            _keep_always_loaded(optimized)
        return optimized
