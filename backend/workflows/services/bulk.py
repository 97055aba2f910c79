"""Bulk decisions: approve or reject up to 100 steps in one call, one result per item.

Each item is decided by ``decide_on_attachment`` in its own transaction: an item that fails
(a typed ``WorkflowError``: not found, not an approver, conflict, missing form data...) is
reported in its result and never undoes the items decided before or after it. The cost per
item is the cost of one decision, whatever the number of items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend.workflows import transitions
from backend.workflows.exceptions import WorkflowError, WorkflowValidationError
from backend.workflows.models import WorkflowAttachment
from backend.workflows.services.running import decide_on_attachment

MAX_BULK_ITEMS = 100
APPROVE_ITEM_KEYS = {"attachment_id", "expected_stage", "comment", "form_data", "idempotency_key"}
REJECT_ITEM_KEYS = {"attachment_id", "expected_stage", "reason", "idempotency_key"}


@dataclass(frozen=True)
class BulkResult:
    """The outcome of one item: the attachment after the decision, or the error that refused it."""

    index: int
    attachment_id: Any
    attachment: WorkflowAttachment | None = None
    error: WorkflowError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _check_items(items: Any) -> list[Any]:
    if not isinstance(items, list | tuple):
        raise WorkflowValidationError("items must be a list.", field="items")
    if not items:
        raise WorkflowValidationError("Give at least one item.", field="items")
    if len(items) > MAX_BULK_ITEMS:
        raise WorkflowValidationError(
            f"Give at most {MAX_BULK_ITEMS} items per call.", field="items"
        )
    return list(items)


def _decide_each(
    action: str,
    items: Sequence[Any],
    keys: set[str],
    *,
    user: Any,
    company_id: int | None,
) -> list[BulkResult]:
    results = []
    for index, item in enumerate(_check_items(items)):
        attachment_id = item.get("attachment_id") if isinstance(item, Mapping) else None
        try:
            if isinstance(item, WorkflowError):
                # Refused while the caller read it (e.g. an id naming another type of object).
                raise item
            if not isinstance(item, Mapping):
                raise WorkflowValidationError(
                    "Each item must be an object.", field=f"items[{index}]"
                )
            unknown = set(item) - keys
            if unknown:
                raise WorkflowValidationError(
                    f"Unknown item keys: {', '.join(sorted(unknown))}.", field=f"items[{index}]"
                )
            attachment = decide_on_attachment(
                action=action,
                attachment_id=attachment_id,
                user=user,
                company_id=company_id,
                **{key: value for key, value in item.items() if key != "attachment_id"},
            )
        except WorkflowError as error:
            results.append(BulkResult(index=index, attachment_id=attachment_id, error=error))
        else:
            results.append(
                BulkResult(index=index, attachment_id=attachment_id, attachment=attachment)
            )
    return results


def approve_stages(
    *, items: Sequence[Mapping[str, Any]], user: Any, company_id: int | None = None
) -> list[BulkResult]:
    """Approve the user's step on each item's attachment; return one result per item, in order.

    An item: ``attachment_id``, optional ``expected_stage``, ``comment``, ``form_data`` and
    ``idempotency_key``. Up to 100 items; more (or no list) is a VALIDATION_ERROR on ``items``
    and nothing is decided. An item may also be the ``WorkflowError`` that refused it while
    the caller read it (an API layer decoding ids): it becomes that item's result.
    """
    return _decide_each(
        transitions.Action.APPROVE, items, APPROVE_ITEM_KEYS, user=user, company_id=company_id
    )


def reject_stages(
    *, items: Sequence[Mapping[str, Any]], user: Any, company_id: int | None = None
) -> list[BulkResult]:
    """Reject each item's attachment at the user's step; one result per item, in order.

    An item: ``attachment_id``, ``reason`` (required), optional ``expected_stage`` and
    ``idempotency_key``.
    """
    return _decide_each(
        transitions.Action.REJECT, items, REJECT_ITEM_KEYS, user=user, company_id=company_id
    )
