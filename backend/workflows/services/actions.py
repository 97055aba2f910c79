"""Create, change and delete the stored actions of workflow templates.

Every write validates the function path (``backend.workflows.actions.validate_function_path``):
a path outside the registry and ``WORKFLOW_ACTION_ALLOWED_MODULES`` is refused with a
``WorkflowValidationError`` and nothing is written. Running copies (hidden workflows) are
read-only: their actions were copied from the template when the workflow was attached.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Max

from backend.workflows.actions import handler_convention_of, validate_function_path
from backend.workflows.constants import ActionType, FailurePolicy
from backend.workflows.exceptions import InvalidStateError, WorkflowValidationError
from backend.workflows.input_limits import check_json
from backend.workflows.models import Pipeline, Stage, Workflow, WorkflowAction
from backend.workflows.notifications import NOTIFICATION_PATH, check_email_action_parameters

MAX_PARAMETERS_SIZE = 20_000
MAX_ORDER = 100_000
ACTION_FIELDS = (
    "action_type",
    "function_path",
    "parameters",
    "order",
    "is_active",
    "failure_policy",
)


def _scope_workflow(
    *, workflow: Workflow | None, pipeline: Pipeline | None, stage: Stage | None
) -> Workflow:
    given = [scope for scope in (workflow, pipeline, stage) if scope is not None]
    if len(given) != 1:
        raise WorkflowValidationError(
            "Give exactly one scope for the action: a workflow, a pipeline or a stage.",
            field="scope",
        )
    if stage is not None:
        return stage.pipeline.workflow
    if pipeline is not None:
        return pipeline.workflow
    assert workflow is not None
    return workflow


def _ensure_template(workflow: Workflow) -> None:
    if workflow.is_hidden:
        raise InvalidStateError(
            "This workflow is the running copy of an attachment; edit the actions of its template."
        )


def _clean_action_type(value: Any) -> str:
    if value not in ActionType.values:
        raise WorkflowValidationError(
            f"Unknown action type {value!r}; use one of {', '.join(ActionType.values)}.",
            field="actionType",
        )
    return str(value)


def _clean_parameters(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WorkflowValidationError("Parameters must be a JSON object.", field="parameters")
    check_json(value, "parameters")
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError):
        raise WorkflowValidationError(
            "Parameters must be plain JSON.", field="parameters"
        ) from None
    if size > MAX_PARAMETERS_SIZE:
        raise WorkflowValidationError(
            f"Parameters are larger than {MAX_PARAMETERS_SIZE} characters of JSON.",
            field="parameters",
        )
    return value


def _clean_failure_policy(value: Any) -> str:
    if value not in FailurePolicy.values:
        raise WorkflowValidationError(
            f"Unknown failure policy {value!r}; use continue or stop.", field="failurePolicy"
        )
    return str(value)


def _clean_order(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ORDER:
        raise WorkflowValidationError(
            f"order must be a whole number from 0 to {MAX_ORDER}.", field="order"
        )
    return value


def _clean_path(value: Any) -> str:
    validate_function_path(value)
    return value.strip()


MAX_NESTED_ACTIONS = 100


def build_actions(specs: Any, *, field: str = "actions") -> list[WorkflowAction]:
    """Validate nested action dicts (``create_workflow``'s ``actions=``) into unsaved rows.

    Each dict takes the keys of ``create_workflow_action`` (``action_type``, ``function_path``,
    ``parameters``, ``order``, ``is_active``, ``failure_policy``); the path passes the same
    allow-list, and the handler convention is read from its signature. The caller sets the
    scope and inserts them. Without ``order``, actions of one type are numbered 1, 2, ...
    """
    if not isinstance(specs, list | tuple):
        raise WorkflowValidationError("Actions must be a list.", field=field)
    if len(specs) > MAX_NESTED_ACTIONS:
        raise WorkflowValidationError(
            f"At most {MAX_NESTED_ACTIONS} actions may be given at one level.", field=field
        )
    built: list[WorkflowAction] = []
    counts: dict[str, int] = {}
    for index, spec in enumerate(specs):
        where = f"{field}[{index}]"
        if not isinstance(spec, dict):
            raise WorkflowValidationError("Each action must be an object.", field=where)
        unknown = set(spec) - set(ACTION_FIELDS)
        if unknown:
            raise WorkflowValidationError(
                f"Unknown action keys: {', '.join(sorted(unknown))}.", field=where
            )
        values: dict[str, Any] = {}
        for name in ("action_type", "function_path"):
            if spec.get(name) in (None, ""):
                raise WorkflowValidationError(f"{name} is required.", field=where)
        for name, value in spec.items():
            if value is None:
                continue
            try:
                values[name] = _CLEANERS[name](value)
            except WorkflowValidationError as error:
                raise WorkflowValidationError(
                    error.message, field=f"{where}.{error.field}"
                ) from None
        counts[values["action_type"]] = counts.get(values["action_type"], 0) + 1
        values.setdefault("order", counts[values["action_type"]])
        built.append(
            WorkflowAction(
                handler_convention=handler_convention_of(
                    validate_function_path(values["function_path"]), values["function_path"]
                ),
                **values,
            )
        )
    return built


def replace_actions(
    *,
    workflow: Workflow | None = None,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    actions: Any,
    field: str = "actions",
) -> list[WorkflowAction]:
    """Replace the actions of one level of a template by ``actions`` (validated first).

    Runs inside the caller's transaction; the levels below keep their own actions.
    """
    _ensure_template(_scope_workflow(workflow=workflow, pipeline=pipeline, stage=stage))
    built = build_actions(actions, field=field)
    WorkflowAction.objects.filter(workflow=workflow, pipeline=pipeline, stage=stage).delete()
    for action in built:
        action.workflow, action.pipeline, action.stage = workflow, pipeline, stage
    return WorkflowAction.objects.bulk_create(built)


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "action_type": _clean_action_type,
    "function_path": _clean_path,
    "parameters": _clean_parameters,
    "order": _clean_order,
    "failure_policy": _clean_failure_policy,
    "is_active": bool,
}


@transaction.atomic
def create_workflow_action(
    *,
    workflow: Workflow | None = None,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    action_type: str,
    function_path: str,
    parameters: dict[str, Any] | None = None,
    order: int | None = None,
    is_active: bool = True,
    failure_policy: str = FailurePolicy.CONTINUE,
) -> WorkflowAction:
    """Add an action to one workflow, pipeline or stage of a template (last, unless ``order``)."""
    scope = _scope_workflow(workflow=workflow, pipeline=pipeline, stage=stage)
    _ensure_template(scope)
    action = WorkflowAction(
        workflow=workflow,
        pipeline=pipeline,
        stage=stage,
        action_type=_clean_action_type(action_type),
        function_path=_clean_path(function_path),
        parameters=_clean_parameters(parameters),
        is_active=bool(is_active),
        failure_policy=_clean_failure_policy(failure_policy),
    )
    if order is None:
        siblings = WorkflowAction.objects.filter(
            workflow=workflow, pipeline=pipeline, stage=stage, action_type=action.action_type
        )
        order = (siblings.aggregate(m=Max("order"))["m"] or 0) + 1
    action.order = _clean_order(order)
    _check_email_action(action, scope)
    action.save()
    return action


def _check_email_action(action: WorkflowAction, workflow: Workflow) -> None:
    """The e-mail handler's parameters: a known template, recipients of the company only."""
    if action.function_path == NOTIFICATION_PATH:
        check_email_action_parameters(action.parameters, company_id=workflow.company_id)


def _action_workflow(action: WorkflowAction) -> Workflow:
    return _scope_workflow(workflow=action.workflow, pipeline=action.pipeline, stage=action.stage)


@transaction.atomic
def update_workflow_action(*, action: WorkflowAction, **fields: Any) -> WorkflowAction:
    """Change an action's type, path, parameters, order, active flag or failure policy.

    ``None`` values are ignored; the scope cannot change (delete and create instead).
    """
    unknown = set(fields) - set(ACTION_FIELDS)
    if unknown:
        raise WorkflowValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    _ensure_template(_action_workflow(action))
    for name, value in fields.items():
        if value is not None:
            setattr(action, name, _CLEANERS[name](value))
    _check_email_action(action, _action_workflow(action))
    action.save()
    return action


@transaction.atomic
def delete_workflow_action(*, action: WorkflowAction) -> None:
    """Delete an action of a template."""
    _ensure_template(_action_workflow(action))
    action.delete()
