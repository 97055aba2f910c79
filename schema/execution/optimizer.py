"""The query optimizer, without the hook it would run around every field."""

from __future__ import annotations

from strawberry.extensions import SchemaExtension
from strawberry_django.optimizer import DjangoOptimizerExtension


class QueryOptimizerExtension(DjangoOptimizerExtension):
    """strawberry-django's optimizer minus its per-field ``resolve`` hook.

    The hook optimizes QuerySets that plain resolvers return. Every field here that returns a
    QuerySet is a strawberry-django field, which optimizes it itself (through this extension,
    found in a context variable set for the operation), so the hook only cost time: with it,
    strawberry wraps every field of every response in graphql-core middleware (about 30,000
    calls for a page of 100 workflows of 5 x 5 stages). ``tests/api/test_graphql_query_counts.py``
    shows the queries are unchanged.
    """

    resolve = SchemaExtension.resolve  # type: ignore[assignment]
