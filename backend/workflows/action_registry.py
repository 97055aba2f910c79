"""Which functions a stored workflow action may name: the registry and the path checks.

Kept apart from ``backend.workflows.actions`` (which runs actions and imports the models) so
that the models can validate a ``function_path`` on save without importing the action
runner: no import cycle between the models and the actions.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from backend.workflows.constants import HandlerConvention
from backend.workflows.engine_settings import workflow_setting
from backend.workflows.exceptions import WorkflowValidationError

# Either convention: (context, parameters) or (workflow_attachment, action_parameters, **context).
ActionHandler = Callable[..., Any]

MAX_PATH_LENGTH = 255
_PATH_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
# Never importable through a stored path, even if a project lists them by mistake.
REFUSED_MODULES = (
    "builtins",
    "code",
    "ctypes",
    "importlib",
    "marshal",
    "multiprocessing",
    "nt",
    "os",
    "pickle",
    "posix",
    "pty",
    "runpy",
    "shutil",
    "socket",
    "subprocess",
    "sys",
)

_registry: dict[str, ActionHandler] = {}


# --------------------------------------------------------------------------- registry


def workflow_action(function: ActionHandler | None = None, *, name: str | None = None) -> Any:
    """Register ``function`` as an action handler under its dotted path (or ``name``).

    Use as ``@workflow_action`` or ``@workflow_action(name="billing.notify")``. The module must be
    imported at start-up (for example from an ``AppConfig.ready``) for the path to resolve.
    """

    def register(handler: ActionHandler) -> ActionHandler:
        path = name or f"{handler.__module__}.{handler.__qualname__}"
        if not _PATH_PATTERN.match(path):
            raise ValueError(f"{path!r} is not a dotted path; pass name= to register it.")
        handler_convention_of(handler, path)
        _registry[path] = handler
        return handler

    return register(function) if function is not None else register


def registered_actions() -> dict[str, ActionHandler]:
    """Return a copy of the registry: dotted path -> handler."""
    return dict(_registry)


def unregister_action(path: str) -> None:
    """Remove ``path`` from the registry (for tests)."""
    _registry.pop(path, None)


def _within(module: str, prefixes: Sequence[str]) -> bool:
    return any(
        prefix and (module == prefix or module.startswith(prefix + ".")) for prefix in prefixes
    )


def is_allowed_module(module: str) -> bool:
    """Tell whether functions of ``module`` may be named by a stored action."""
    allowed = [
        str(prefix).strip() for prefix in workflow_setting("WORKFLOW_ACTION_ALLOWED_MODULES")
    ]
    return _within(module, allowed) and not _within(module, REFUSED_MODULES)


def handler_convention_of(handler: Any, path: str | None = None) -> str:
    """Return the ``HandlerConvention`` ``handler`` is written for, or raise ``WorkflowValidationError``.

    A handler naming both ``workflow_attachment`` and ``action_parameters`` is called the seed's
    way, by keyword; any other handler must accept two positional arguments.
    """
    name = path or f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', '?')}"
    refused = WorkflowValidationError(
        f"{name} must accept (context, parameters) or "
        "(workflow_attachment, action_parameters, **context).",
        field="functionPath",
    )
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        raise refused from None
    parameters = signature.parameters
    try:
        if "workflow_attachment" in parameters and "action_parameters" in parameters:
            signature.bind(workflow_attachment=None, action_parameters={})
            return HandlerConvention.ATTACHMENT
        signature.bind(None, {})
    except TypeError:
        raise refused from None
    return HandlerConvention.CONTEXT


def validate_function_path(path: Any) -> ActionHandler:
    """Return the handler named by ``path``, or raise ``WorkflowValidationError``.

    Registered paths resolve directly. Any other path must name a public module-level function
    defined in an allowed module; the module is imported only after that check.
    """
    if not isinstance(path, str) or not path.strip():
        raise WorkflowValidationError("A function path is required.", field="functionPath")
    path = path.strip()
    if len(path) > MAX_PATH_LENGTH or not _PATH_PATTERN.match(path):
        raise WorkflowValidationError(
            "The function path must be a dotted Python path such as 'myapp.actions.notify'.",
            field="functionPath",
        )
    if path in _registry:
        return _registry[path]
    refused = WorkflowValidationError(
        f"{path} is not a registered workflow action and is not in a module listed in "
        "WORKFLOW_ACTION_ALLOWED_MODULES.",
        field="functionPath",
    )
    module_path, _, attribute = path.rpartition(".")
    if not is_allowed_module(module_path) or attribute.startswith("_"):
        raise refused
    try:
        module = import_module(module_path)
    except ImportError:
        raise WorkflowValidationError(
            f"Module {module_path} cannot be imported.", field="functionPath"
        ) from None
    handler = getattr(module, attribute, None)
    if handler is None:
        raise WorkflowValidationError(
            f"{module_path} has no function {attribute}.", field="functionPath"
        )
    # A name imported into an allowed module (``from os import system``) is still refused.
    if not inspect.isfunction(handler) or not is_allowed_module(handler.__module__):
        raise refused
    handler_convention_of(handler, path)
    return handler
