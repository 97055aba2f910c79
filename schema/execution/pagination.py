"""Relay connections whose page arguments are checked before slicing.

Strawberry raises ``ValueError``/``TypeError`` for a page larger than ``max_results``, a
negative size or a malformed cursor; unchecked, those would be masked as unexpected server
errors. Here they become ``VALIDATION_ERROR``s naming the argument.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.relay.types import PREFIX
from strawberry.relay.utils import from_base64
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend.workflows.exceptions import WorkflowValidationError
from schema.errors import query_error


def _is_cursor(value: str) -> bool:
    try:
        prefix, position = from_base64(value)
        int(position)
    except (ValueError, TypeError):
        return False
    return prefix == PREFIX


def check_page_arguments(
    *,
    before: str | None,
    after: str | None,
    first: int | None,
    last: int | None,
    max_results: int,
) -> None:
    """Raise a validation error for a page size out of ``0..max_results`` or a foreign cursor."""
    for name, size in (("first", first), ("last", last)):
        if size is None:
            continue
        if size < 0:
            raise WorkflowValidationError(
                f"Argument '{name}' must be a non-negative integer.", field=name
            )
        if size > max_results:
            raise WorkflowValidationError(
                f"Argument '{name}' cannot be higher than {max_results}.", field=name
            )
    for name, cursor in (("after", after), ("before", before)):
        if cursor is not None and not _is_cursor(cursor):
            raise WorkflowValidationError(f"Argument '{name}' is not a valid cursor.", field=name)


# Named "Connection" like its parent, so the schema's type names (WorkflowConnection, ...) stay.
@strawberry.type(name="Connection", description="A connection to a list of items.")
class CheckedListConnection(DjangoListConnection[relay.NodeType]):
    @classmethod
    def resolve_connection(
        cls,
        nodes: Any,
        *,
        info: Info,
        before: str | None = None,
        after: str | None = None,
        first: int | None = None,
        last: int | None = None,
        max_results: int | None = None,
        **kwargs: Any,
    ) -> Any:
        try:
            check_page_arguments(
                before=before,
                after=after,
                first=first,
                last=last,
                max_results=max_results
                if max_results is not None
                else info.schema.config.relay_max_results,
            )
        except WorkflowValidationError as error:
            raise query_error(error) from error
        return super().resolve_connection(
            nodes,
            info=info,
            before=before,
            after=after,
            first=first,
            last=last,
            max_results=max_results,
            **kwargs,
        )
