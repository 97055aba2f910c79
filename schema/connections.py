"""Root connections: strawberry-django's connection field, its page arguments described.

strawberry describes ``last`` with the words of ``after``; clients read these descriptions
(GraphiQL, codegen comments), so each page argument says what it does here.
"""

from __future__ import annotations

from typing import Any

import strawberry_django
from strawberry.extensions.field_extension import FieldExtension
from strawberry.types.field import StrawberryField

from schema.execution.pagination import OneHopConnectionField
from schema.tenancy import MAX_PAGE_SIZE

PAGE_ARGUMENTS = {
    "first": f"Return the first n items (at most {MAX_PAGE_SIZE}), after `after` when given.",
    "after": "Return the items after this cursor (an edge's `cursor`), paging forwards.",
    "last": f"Return the last n items (at most {MAX_PAGE_SIZE}), before `before` when given.",
    "before": "Return the items before this cursor (an edge's `cursor`), paging backwards.",
}


class DescribedPageArguments(FieldExtension):
    """Describe ``first``/``after``/``last``/``before`` (added by the connection extension)."""

    def apply(self, field: StrawberryField) -> None:
        for argument in field.arguments:
            if argument.python_name in PAGE_ARGUMENTS:
                argument.description = PAGE_ARGUMENTS[argument.python_name]


def connection(graphql_type: Any, *, description: str, max_results: int = MAX_PAGE_SIZE) -> Any:
    """Return a connection field (used as a decorator) for ``graphql_type``.

    ``graphql_type`` is a ``CheckedListConnection[SomeType] | None``; the field pages with
    keyset cursors and answers null with an error on a malformed page argument.
    """
    field = strawberry_django.connection(
        graphql_type,
        description=description,
        max_results=max_results,
        # Under async execution: resolver, queryset hook and page in one worker-thread hop.
        field_cls=OneHopConnectionField,
    )
    # After the connection extension, which adds the page arguments when the schema is built.
    field.extensions.append(DescribedPageArguments())
    return field
