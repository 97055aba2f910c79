"""The viewer's company, and single objects read as lists are (optimized)."""

from __future__ import annotations

from typing import Any

import strawberry
from django.db.models import QuerySet
from strawberry.types import Info
from strawberry_django.optimizer import optimizer

from backend.workflows.exceptions import UnauthenticatedError, WorkflowError
from schema.context import context_of
from schema.errors import query_error
from schema.global_ids import database_id

MAX_PAGE_SIZE = 100


def viewer_company_id(info: Info, requested: strawberry.ID | None = None) -> int:
    """Return the company the viewer acts for (a superuser may name another); or raise."""
    context = context_of(info)
    try:
        context.viewer()
    except UnauthenticatedError as error:
        raise query_error(error) from None
    if requested is not None and context.user.is_superuser:
        return int(requested)
    assert context.company_id is not None
    return context.company_id


def queried_id(value: Any, type_name: str, *, field: str) -> Any:
    """Return ``database_id(value, ...)`` for a query: a wrong type is a NOT_FOUND error."""
    try:
        return database_id(value, type_name, field=field)
    except WorkflowError as error:
        raise query_error(error) from None


def optimized_first(queryset: QuerySet, info: Info) -> Any:
    """Return the first row with what the query selects below it prefetched, as lists get it.

    A resolver returning one object, not a QuerySet, is never optimized: its pipelines would
    be read, and their stages counted, one query at a time.
    """
    extension = optimizer.get()
    if extension is not None:
        queryset = extension.optimize(queryset, info=info)
    return queryset.first()
