"""The one place where domain errors become GraphQL errors.

Mutations return them as typed ``MutationError`` values in their payload; queries raise
them as GraphQL errors whose ``extensions`` carry the same ``code`` and ``field``.
Anything else is unexpected: it is logged with an id and masked for the client.
"""

from __future__ import annotations

import logging
import re
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


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | WorkflowError)


def _report_incident(error: GraphQLError) -> None:
    """Log an unexpected error once, with its traceback and an id the client can quote."""
    if (error.extensions or {}).get("incident"):
        return
    incident = uuid.uuid4().hex[:12]
    logger.error("Unexpected GraphQL error %s", incident, exc_info=error.original_error)
    error.extensions = {**(error.extensions or {}), "incident": incident}


def log_errors(errors: list[GraphQLError]) -> None:
    """Log expected errors as one line each; unexpected ones with an incident id and traceback.

    Expected: a domain error (``WorkflowError``) or a GraphQL error (syntax, validation,
    variables); a client caused it, so a traceback would only bury the real incidents.
    """
    for error in errors:
        if not _is_expected(error):
            _report_incident(error)
            continue
        original = error.original_error
        code = (error.extensions or {}).get("code") or getattr(original, "code", None)
        path = ".".join(str(p) for p in error.path) if error.path else "-"
        logger.info("GraphQL error %s at %s: %s", code or "GRAPHQL", path, error.message)


def should_mask(error: GraphQLError) -> bool:
    """Mask every error that is not a deliberate one (logged once, with an incident id)."""
    if _is_expected(error):
        return False
    _report_incident(error)
    return True


from strawberry.extensions import MaskErrors  # noqa: E402

# graphql-core's hint after an unknown name: " Did you mean 'a', 'b', or 'c'?" (names never
# hold a question mark), at the end of a message or before " Found: <value>".
_SUGGESTION = re.compile(r" Did you mean [^?]*\?")


def without_suggestion(error: GraphQLError) -> GraphQLError:
    """Return ``error`` without graphql-core's "Did you mean ...?" hint (a copy, if it has one)."""
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


class MaskUnexpectedErrors(MaskErrors):
    """Hide unexpected exceptions from clients, keeping an incident id to find the log line.

    Without ``suggestions`` (introspection off) it also drops graphql-core's "Did you mean"
    hints, which name arguments, enum values, input fields and types of the schema.
    """

    def __init__(self, *, suggestions: bool = True) -> None:
        super().__init__(should_mask_error=should_mask, error_message="Unexpected error.")
        self.suggestions = suggestions

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        if self.suggestions:
            return processed
        return [without_suggestion(error) for error in processed]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {
            "code": "INTERNAL_ERROR",
            "incident": (error.extensions or {}).get("incident"),
        }
        return masked
