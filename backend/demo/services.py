"""Writes of the demo's business objects: one transaction each, bad input changes nothing."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from backend.demo.models import PurchaseRequest
from backend.workflows.exceptions import WorkflowValidationError
from backend.workflows.input_limits import check_columns, check_text

# The amount column holds 12 digits, 2 of them after the point.
MAX_AMOUNT = Decimal("9999999999.99")
# The description column is unbounded text; a request's description stays readable.
MAX_DESCRIPTION_LENGTH = 5000


def company_purchase_requests(company_id: int | None) -> QuerySet[PurchaseRequest]:
    """Return the purchase requests of a company: requested by its account or its members."""
    return PurchaseRequest.objects.filter(
        Q(requester_id=company_id) | Q(requester__company_membership__company_id=company_id)
    )


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise WorkflowValidationError(
            "amount must be a decimal number such as 1250.00.", field="amount"
        ) from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT:
        raise WorkflowValidationError(
            f"amount must be more than 0 and at most {MAX_AMOUNT}.", field="amount"
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise WorkflowValidationError(
            "amount may have at most 2 digits after the point.", field="amount"
        )
    return amount


@transaction.atomic
def create_purchase_request(
    *, requester: Any, title: str, amount: Any, description: str = ""
) -> PurchaseRequest:
    """Create a purchase request of ``requester`` (auto-start rules then apply, in this transaction)."""
    if not isinstance(title, str) or not title.strip():
        raise WorkflowValidationError("title may not be empty.", field="title")
    check_text(description, "description", max_length=MAX_DESCRIPTION_LENGTH)
    request = PurchaseRequest(
        title=title.strip(),
        amount=_amount(amount),
        description=description or "",
        requester=requester,
    )
    check_columns(request)
    request.save()
    return request
