"""Bounds on what callers may store: text length, JSON size and depth, colours, ids.

Every service that stores caller input checks it here, so the Python API is bounded as
well as the GraphQL API, and a bad value is a ``WorkflowValidationError`` (or a
``NotFoundError`` for an id) naming the input field, never a database error:

- text: at most the column's ``max_length`` (``WORKFLOW_MAX_TEXT_LENGTH`` characters for
  unbounded text columns), and no NUL character (PostgreSQL refuses it in text and jsonb);
- JSON (``metadata``, ``formData``, action parameters): at most ``WORKFLOW_MAX_JSON_BYTES``
  bytes once encoded and ``WORKFLOW_MAX_JSON_DEPTH`` levels of nesting, no NUL anywhere;
- colours: ``#rrggbb`` (a colour reaches a browser's CSS);
- ids: whole numbers; anything else is not found.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.db import models

from backend.workflows.exceptions import NotFoundError, WorkflowValidationError

DEFAULT_MAX_JSON_BYTES = 64 * 1024
DEFAULT_MAX_JSON_DEPTH = 20
DEFAULT_MAX_TEXT_LENGTH = 64 * 1024
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# Column values checked as colours: (model label, field name).
COLOR_COLUMNS = {("workflows.Stage", "color")}


def max_json_bytes() -> int:
    return int(getattr(settings, "WORKFLOW_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES))


def max_json_depth() -> int:
    return int(getattr(settings, "WORKFLOW_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH))


def max_text_length() -> int:
    return int(getattr(settings, "WORKFLOW_MAX_TEXT_LENGTH", DEFAULT_MAX_TEXT_LENGTH))


def json_depth(value: Any, *, stop_after: int | None = None) -> int:
    """Return how deep ``value`` nests (a scalar is 0, ``{}`` or ``[]`` is 1), iteratively.

    With ``stop_after``, stop counting once the depth exceeds it (the answer is then
    ``stop_after + 1``), so a huge document costs no more than its first deep branch.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if stop_after is not None and deepest > stop_after:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def check_json(value: Any, field: str) -> Any:
    """Refuse JSON deeper than ``WORKFLOW_MAX_JSON_DEPTH`` or larger than the byte limit."""
    if value is None:
        return value
    limit = max_json_depth()
    if json_depth(value, stop_after=limit) > limit:
        raise WorkflowValidationError(
            f"{field} is nested more than {limit} levels deep.", field=field
        )
    try:
        size = len(json.dumps(value, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise WorkflowValidationError(f"{field} must be plain JSON.", field=field) from None
    if size > max_json_bytes():
        raise WorkflowValidationError(
            f"{field} is larger than {max_json_bytes()} bytes of JSON.", field=field
        )
    if _has_nul(value):
        raise WorkflowValidationError(f"{field} may not contain NUL characters.", field=field)
    return value


def check_text(value: Any, field: str, *, max_length: int | None = None) -> Any:
    """Refuse text longer than ``max_length`` (default: the text limit) or holding a NUL."""
    if not isinstance(value, str):
        return value
    limit = max_text_length() if max_length is None else max_length
    if len(value) > limit:
        raise WorkflowValidationError(f"{field} is longer than {limit} characters.", field=field)
    if "\x00" in value:
        raise WorkflowValidationError(f"{field} may not contain NUL characters.", field=field)
    return value


def check_color(value: Any, field: str) -> Any:
    """Refuse a colour that is not ``#rrggbb``."""
    if value in (None, ""):
        return value
    if not isinstance(value, str) or not COLOR.fullmatch(value):
        raise WorkflowValidationError(
            f"{field} must be a colour written #rrggbb, e.g. #3498db.", field=field
        )
    return value


def check_columns(instance: models.Model, prefix: str = "") -> models.Model:
    """Check every text, JSON and colour column of an unsaved ``instance`` against the limits.

    The error's field is ``prefix`` + the column name (``pipelines[0].stages[1].name_ar``).
    """
    label = instance._meta.label
    for column in instance._meta.concrete_fields:
        value = getattr(instance, column.attname, None)
        field = f"{prefix}{column.name}"
        if isinstance(column, models.JSONField):
            check_json(value, field)
        elif isinstance(column, models.IntegerField) and not column.is_relation:
            low = 0 if isinstance(column, models.PositiveIntegerField) else -(2**31)
            if isinstance(value, int) and not low <= value < 2**31:
                raise WorkflowValidationError(
                    f"{field} must be a whole number from {low} to {2**31 - 1}.", field=field
                )
        elif isinstance(column, models.CharField | models.TextField):
            check_text(value, field, max_length=column.max_length)
            if (label, column.name) in COLOR_COLUMNS:
                check_color(value, field)
    return instance


def parse_id(value: Any, field: str, *, what: str = "Object") -> int:
    """Return ``value`` as a database id; anything but a whole number is not found."""
    if isinstance(value, bool):
        raise NotFoundError(f"{what} not found.", field=field)
    if isinstance(value, int):
        return value
    text = str(value).strip() if isinstance(value, str) else ""
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        raise NotFoundError(f"{what} not found.", field=field)
    return int(text)
