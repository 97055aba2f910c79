"""The one place where domain errors become GraphQL errors.

Mutations return them as typed ``MutationError`` values in their payload; queries raise
them as GraphQL errors whose ``extensions`` carry the same ``code`` and ``field``.
Anything else is unexpected: it is logged with an id and masked for the client.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from asgiref.sync import sync_to_async
from graphql import GraphQLError
from strawberry.types import Info

from backend.workflows.constants import ErrorCode
from backend.workflows.exceptions import WorkflowError
from schema.enums import choices_enum

if TYPE_CHECKING:
    from schema.root import Query

logger = logging.getLogger("schema.errors")

_Payload = TypeVar("_Payload")

choices_enum(
    ErrorCode,
    name="ErrorCode",
    description="Stable machine-readable error codes.",
    values={
        "UNAUTHENTICATED": "No valid API token or session came with the request.",
        "NOT_FOUND": "The id names nothing the viewer's company may see (or the wrong type).",
        "PERMISSION_DENIED": "The viewer is signed in but may not do this.",
        "NOT_AN_APPROVER": "The viewer holds no share of the current step.",
        "INVALID_STATE": "The attachment or template is not in a state that allows this.",
        "VALIDATION_ERROR": "An input value is malformed, too large or inconsistent; `field` "
        "names it.",
        "FORM_REQUIRED": "The step needs form data (or a required field of its form) that was "
        "not given.",
        "CONFLICT": "Someone changed it first: a stale expectedStageId, a decision already "
        "taken, or a reused idempotencyKey.",
    },
)
ErrorCodeEnum = ErrorCode


@strawberry.type(name="MutationError", description="Why a mutation did not change anything.")
class MutationError:
    code: ErrorCodeEnum = strawberry.field(description="Stable error code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(
        description="The input field the error is about, when there is one."
    )


@strawberry.type(name="MutationPayload", description="What every mutation payload holds.")
class MutationPayload:
    @strawberry.field(
        description="The query root, to read anything else in the same round trip after the change."
    )
    def query(self) -> Annotated[Query, strawberry.lazy("schema.root")]:
        from schema.root import Query

        return Query()


def mutation_error(error: WorkflowError) -> MutationError:
    """Turn a domain error into a payload error."""
    return MutationError(code=ErrorCode(str(error.code)), message=error.message, field=error.field)


async def run_mutation(
    info: Info,
    payload: Callable[..., _Payload],
    action: Callable[[Any], dict[str, Any]],
) -> _Payload:
    """Run ``action(context)`` in a worker thread and build ``payload`` from what it returns.

    A domain error becomes the payload's ``error``: the service ran in one transaction, so
    nothing changed.
    """
    context = info.context

    def call() -> _Payload:
        try:
            return payload(**action(context))
        except WorkflowError as error:
            return payload(error=mutation_error(error))

    return await sync_to_async(call)()


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
