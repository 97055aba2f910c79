"""Read the ``DJANGO_WORKFLOW_ENGINE`` settings dict with defaults."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models

DEFAULT_FORM_MODEL = "workflows.DynamicForm"

DEFAULTS: dict[str, Any] = {
    "DEPARTMENT_MODEL": None,
    "FORM_MODEL": None,  # see form_model_label(): APPROVAL_DYNAMIC_FORM_MODEL is its alias
    "ENABLED_MODELS": [],
    "DEFAULT_STATUS_FIELD": "workflow_status",
    "MODEL_WORKFLOW_MAPPINGS": {},
    "AUTO_START_WORKFLOWS": {},
    # The user who started an attachment is never one of its approvers unless this is True.
    "ALLOW_SELF_APPROVAL": False,
    "PERMISSIONS": {
        "REQUIRE_PERMISSION_TO_START": False,
        "REQUIRE_PERMISSION_TO_APPROVE": False,
    },
}


def engine_setting(name: str) -> Any:
    """Return one key of ``DJANGO_WORKFLOW_ENGINE``, falling back to its default."""
    configured = getattr(settings, "DJANGO_WORKFLOW_ENGINE", {}) or {}
    if name == "PERMISSIONS":
        return {**DEFAULTS["PERMISSIONS"], **(configured.get("PERMISSIONS") or {})}
    return configured.get(name, DEFAULTS.get(name))


def model_label(model: type[models.Model] | models.Model) -> str:
    """Return ``app_label.ModelName`` for a model class or instance."""
    meta = model._meta
    return f"{meta.app_label}.{meta.object_name}"


def lookup_by_label(mapping: dict[str, Any], model: type[models.Model]) -> Any:
    """Find ``model`` in a settings dict keyed by model label (case-insensitive) or ``default``."""
    wanted = model_label(model).lower()
    for key, value in mapping.items():
        if key.lower() == wanted:
            return value
    return mapping.get("default")


def form_model_label() -> str:
    """Return the label of the model approvals' ``required_form`` points at.

    ``DJANGO_WORKFLOW_ENGINE['FORM_MODEL']`` when set, else the seed's (and
    django-approval-workflow's) ``APPROVAL_DYNAMIC_FORM_MODEL``, else ``workflows.DynamicForm``.
    """
    return (
        engine_setting("FORM_MODEL")
        or getattr(settings, "APPROVAL_DYNAMIC_FORM_MODEL", None)
        or DEFAULT_FORM_MODEL
    )


def model_workflow_mapping(model: type[models.Model]) -> list[str] | None:
    """Return the workflows ``MODEL_WORKFLOW_MAPPINGS`` allows for ``model`` (slugs or names).

    None when the model has no entry and there is no ``"default"`` entry: every workflow is
    allowed then, as in the seed.
    """
    mapping = engine_setting("MODEL_WORKFLOW_MAPPINGS") or {}
    allowed = lookup_by_label(mapping, model)
    if allowed is None:
        return None
    return [allowed] if isinstance(allowed, str) else [str(item) for item in allowed]


def department_model() -> type[models.Model] | None:
    """Return the model configured as ``DEPARTMENT_MODEL``, if any."""
    label = engine_setting("DEPARTMENT_MODEL")
    return apps.get_model(label) if label else None


def enabled_model_labels() -> set[str]:
    """Return the lower-cased labels of ``ENABLED_MODELS``."""
    return {label.lower() for label in engine_setting("ENABLED_MODELS") or []}


def is_model_enabled(model: type[models.Model]) -> bool:
    """Tell whether workflows may be attached to ``model`` (every model when the list is empty)."""
    labels = enabled_model_labels()
    return not labels or model_label(model).lower() in labels


# Top-level settings of the action, e-mail and cleanup features (names from the seed).
WORKFLOW_SETTING_DEFAULTS: dict[str, Any] = {
    "WORKFLOW_ACTION_ALLOWED_MODULES": [],
    "WORKFLOW_ACTIONS_CONFIG": [],
    "WORKFLOW_AUTO_CREATE_ACTIONS": True,
    "WORKFLOW_DISABLE_EMAILS": False,
    "WORKFLOW_SEND_EMAIL_FUNCTION": None,
    "WORKFLOW_CREATOR_FIELDS": ["created_by", "requester", "owner", "user"],
    "WORKFLOW_AUTO_CLEANUP_COMPLETED": False,
}


def workflow_setting(name: str) -> Any:
    """Return a top-level ``WORKFLOW_*`` setting, falling back to its documented default."""
    return getattr(settings, name, WORKFLOW_SETTING_DEFAULTS[name])
