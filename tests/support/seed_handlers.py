"""Action handlers written the seed's way (``tests.support.seed_handlers`` is listed as allowed by the tests)."""

from __future__ import annotations

from typing import Any

from backend.workflows.notifications import resolve_recipients

ALLOWED = "tests.support.seed_handlers"
# Every call: (handler name, workflow_attachment, action_parameters, context keywords).
SEED_CALLS: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = []


def record_seed(
    workflow_attachment: Any, action_parameters: dict[str, Any], **context: Any
) -> bool:
    """The seed's "custom action handler" signature."""
    SEED_CALLS.append(("record_seed", workflow_attachment, action_parameters, context))
    return True


def record_named(
    workflow_attachment: Any,
    action_parameters: dict[str, Any],
    approved_stage: Any = None,
    current_stage: Any = None,
) -> None:
    """Names two context keys and takes no ``**context``: only those two are passed."""
    SEED_CALLS.append(
        (
            "record_named",
            workflow_attachment,
            action_parameters,
            {"approved_stage": approved_stage, "current_stage": current_stage},
        )
    )


def resolve_seed_recipients(
    workflow_attachment: Any, action_parameters: dict[str, Any], **context: Any
) -> None:
    """Resolve recipients with the seed's keyword call and record the result."""
    resolved = resolve_recipients(
        recipient_types=action_parameters.get("recipients", ["creator"]),
        workflow_attachment=workflow_attachment,
        **context,
    )
    SEED_CALLS.append(
        ("resolve_seed_recipients", workflow_attachment, action_parameters, {"resolved": resolved})
    )


def three_arguments(first: Any, second: Any, third: Any) -> None:
    """Fits neither convention: refused when saved."""
