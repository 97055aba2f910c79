"""The one place where domain errors become GraphQL errors.

Mutations return them as typed ``MutationError`` values in their payload; queries raise
them as GraphQL errors whose ``extensions`` carry the same ``code`` and ``field``.
Anything else is unexpected: it is logged with an id and masked for the client.
"""

from __future__ import annotations

import logging
import uuid
from enum import Enum

import strawberry
from graphql import GraphQLError

from backend.workflows.constants import ErrorCode
from backend.workflows.exceptions import WorkflowError

logger = logging.getLogger("schema.errors")

# A functional Enum: mypy cannot see its members, so no overload of strawberry.enum matches.
ErrorCodeEnum = strawberry.enum(  # type: ignore[call-overload]
    Enum("ErrorCode", {code: code for code in ErrorCode.values}),
    name="ErrorCode",
    description="Stable machine-readable error codes.",
)


@strawberry.type(name="MutationError", description="Why a mutation did not change anything.")
class MutationError:
    code: ErrorCodeEnum = strawberry.field(description="Stable error code.")  # type: ignore[valid-type]
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(
        description="The input field the error is about, when there is one."
    )


def mutation_error(error: WorkflowError) -> MutationError:
    """Turn a domain error into a payload error."""
    return MutationError(
        code=ErrorCodeEnum(str(error.code)), message=error.message, field=error.field
    )


def query_error(error: WorkflowError) -> GraphQLError:
    """Turn a domain error into a GraphQL error for queries."""
    return GraphQLError(error.message, extensions={"code": str(error.code), "field": error.field})


def should_mask(error: GraphQLError) -> bool:
    """Mask every error that is not a deliberate one; log it with an id the client can quote."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    if isinstance(original, WorkflowError):
        return False
    incident = uuid.uuid4().hex[:12]
    logger.error("Unexpected GraphQL error %s", incident, exc_info=original)
    error.extensions = {**(error.extensions or {}), "incident": incident}
    return True


from strawberry.extensions import MaskErrors  # noqa: E402


class MaskUnexpectedErrors(MaskErrors):
    """Hide unexpected exceptions from clients, keeping an incident id to find the log line."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {
            "code": "INTERNAL_ERROR",
            "incident": (error.extensions or {}).get("incident"),
        }
        return masked
