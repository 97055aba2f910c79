"""Typed domain errors. Every error carries a stable ``code`` and an optional ``field``."""

from __future__ import annotations

from backend.workflows.constants import ErrorCode


class WorkflowError(Exception):
    """Base class of every error the engine raises on purpose."""

    code: str = ErrorCode.VALIDATION_ERROR

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, field={self.field!r})"


class UnauthenticatedError(WorkflowError):
    code = ErrorCode.UNAUTHENTICATED


class NotFoundError(WorkflowError):
    code = ErrorCode.NOT_FOUND


class WorkflowPermissionDenied(WorkflowError):
    code = ErrorCode.PERMISSION_DENIED


class NotAnApproverError(WorkflowError):
    code = ErrorCode.NOT_AN_APPROVER


class InvalidStateError(WorkflowError):
    code = ErrorCode.INVALID_STATE


class WorkflowValidationError(WorkflowError):
    code = ErrorCode.VALIDATION_ERROR


class FormRequiredError(WorkflowError):
    code = ErrorCode.FORM_REQUIRED


class ConflictError(WorkflowError):
    code = ErrorCode.CONFLICT


__all__ = [
    "ConflictError",
    "FormRequiredError",
    "InvalidStateError",
    "NotAnApproverError",
    "NotFoundError",
    "UnauthenticatedError",
    "WorkflowError",
    "WorkflowPermissionDenied",
    "WorkflowValidationError",
]
