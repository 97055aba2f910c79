"""Stage conditions: Django lookups over the business object, read when a stage would open.

A condition has the form of an ``AUTO_START_WORKFLOWS`` condition: ``{"amount__gte": 10000}``
(every lookup must hold). It is checked with one ``EXISTS`` query on the object's table, on
the object's values at that moment. A condition that cannot be evaluated on the object (an
unknown field, a value of the wrong type) counts as true and is logged: running an approval
too many is safer than skipping one.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db.models import Model

from backend.workflows.exceptions import WorkflowValidationError

logger = logging.getLogger(__name__)

MAX_LOOKUPS = 20
_LOOKUP = re.compile(r"[a-z_][a-z0-9_]{0,63}(__[a-z0-9_]{1,64}){0,5}")
_SCALARS = (str, int, float, bool, type(None))


def validate_condition(value: Any, *, field: str = "condition") -> dict[str, Any] | None:
    """Return a stage condition checked for shape (None or ``{}`` for always), or raise."""
    if value in (None, {}, ""):
        return None
    if not isinstance(value, dict):
        raise WorkflowValidationError(
            'A condition is an object of Django lookups, e.g. {"amount__gte": 10000}.',
            field=field,
        )
    if len(value) > MAX_LOOKUPS:
        raise WorkflowValidationError(
            f"A condition has at most {MAX_LOOKUPS} lookups.", field=field
        )
    for key, item in value.items():
        if not isinstance(key, str) or not _LOOKUP.fullmatch(key):
            raise WorkflowValidationError(f"'{key}' is not a field lookup.", field=field)
        items = item if isinstance(item, list) else [item]
        if len(items) > 100 or not all(isinstance(one, _SCALARS) for one in items):
            raise WorkflowValidationError(
                f"The value of '{key}' must be a string, number, boolean, null or a list of them.",
                field=field,
            )
    return dict(value)


def condition_holds(model: type[Model] | None, object_id: str, condition: Any) -> bool:
    """Tell whether the object ``object_id`` of ``model`` matches ``condition`` now."""
    if not condition or model is None:
        return True
    try:
        return model._default_manager.filter(pk=object_id, **condition).exists()
    except (FieldError, ValidationError, ValueError, TypeError) as error:
        logger.warning("Stage condition %r cannot be evaluated: %s", condition, error)
        return True
