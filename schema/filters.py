"""Apply a filter input through the engine's filter sets; a bad value is a query error."""

from __future__ import annotations

from typing import Any

import strawberry
from django.db.models import QuerySet

from backend.workflows.exceptions import WorkflowError
from backend.workflows.filters import (
    apply_filterset,
)
from schema.errors import query_error
from schema.tenancy import queried_id


def filter_data(value: Any, references: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """Return the given filters as a dict; ids in ``references`` (key: Node type, field) decoded."""
    if value is None or value is strawberry.UNSET:
        return {}
    data = {}
    for key, item in vars(value).items():
        if item is None or item is strawberry.UNSET:
            continue
        if isinstance(item, list):
            item = [getattr(v, "value", v) for v in item]
        if key in (references or {}):
            type_name, field = (references or {})[key]
            item = queried_id(item, type_name, field=f"filter.{field}")
        data[key] = item
    return data


def filtered(filterset: Any, data: dict[str, Any], queryset: QuerySet) -> QuerySet:
    try:
        return apply_filterset(filterset, data, queryset)
    except WorkflowError as error:
        raise query_error(error) from error
