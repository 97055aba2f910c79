"""Stored workflow actions and cleanup statistics: types, enums and inputs."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from backend.workflows.constants import ActionType, FailurePolicy, HandlerConvention
from backend.workflows.models import WorkflowAction
from schema.accounts.types import DATABASE_ID
from schema.enums import choices_enum
from schema.global_ids import global_id, optional_global_id

# Reading or changing actions needs the right to manage the company's workflows.
ACTIONS_REFUSED = "You may not see or edit workflow actions."

choices_enum(
    ActionType,
    name="WorkflowActionType",
    description="When a stored action runs.",
    values={
        "AFTER_APPROVE": "After an approval of a step (an APPROVED event).",
        "AFTER_REJECT": "After the workflow was rejected (a REJECTED event).",
        "AFTER_RESUBMISSION": "After an approver sent the workflow back (RESUBMISSION_REQUESTED).",
        "AFTER_DELEGATE": "After a share of a step was delegated (a DELEGATED event).",
        "AFTER_MOVE_STAGE": "After the workflow moved to the next stage (STAGE_MOVED).",
        "AFTER_MOVE_PIPELINE": "After the workflow moved to the next pipeline (PIPELINE_MOVED).",
        "ON_WORKFLOW_START": "When the workflow starts (a STARTED event).",
        "ON_WORKFLOW_COMPLETE": "When the last stage is approved (a COMPLETED event).",
    },
)
choices_enum(
    FailurePolicy,
    name="ActionFailurePolicy",
    description="What a failing action does to the later actions of its event.",
    values={
        "CONTINUE": "Record the failure (ACTION_FAILED) and run the event's later actions.",
        "STOP": "Record the failure (ACTION_FAILED) and skip the event's later actions.",
    },
)
choices_enum(
    HandlerConvention,
    name="ActionHandlerConvention",
    description="How the handler is called, read from its signature when the action is saved: CONTEXT is "
    "handler(context, parameters), ATTACHMENT is "
    "handler(workflow_attachment, action_parameters, **context).",
    values={
        "CONTEXT": "Called as handler(context, parameters): one dict describing the event, "
        "then the action's parameters.",
        "ATTACHMENT": "The seed's convention, called as handler(workflow_attachment, "
        "action_parameters, **context).",
    },
)


ActionTypeEnum = ActionType
FailurePolicyEnum = FailurePolicy
HandlerConventionEnum = HandlerConvention


@strawberry.enum(name="ActionScopeLevel", description="The level an action is attached to.")
class ActionScopeLevel(Enum):
    WORKFLOW = strawberry.enum_value(
        "workflow", description="Runs for events anywhere in the workflow."
    )
    PIPELINE = strawberry.enum_value(
        "pipeline", description="Runs for events of the pipeline's stages."
    )
    STAGE = strawberry.enum_value("stage", description="Runs for events of that one stage.")


@strawberry.type(
    name="WorkflowAction",
    description=(
        "A handler run after a committed event of its type, scoped to a workflow, a pipeline or "
        "a stage; the most specific level with active actions of a type wins."
    ),
)
class WorkflowActionType(relay.Node):
    _id_attr = "database_id"
    database_id: int = strawberry.field(description=DATABASE_ID)
    action_type: ActionTypeEnum = strawberry.field(description="When it runs.")
    function_path: str = strawberry.field(
        description="Dotted path of a registered handler or one in an allowed module."
    )
    parameters: JSON = strawberry.field(description="JSON object handed to the handler.")
    order: int = strawberry.field(description="Position among the actions of its scope and type.")
    is_active: bool = strawberry.field(description="Inactive actions never run.")
    failure_policy: FailurePolicyEnum = strawberry.field(
        description="CONTINUE runs the later actions of the event after a failure; STOP skips them."
    )
    scope_level: ActionScopeLevel = strawberry.field(description="Workflow, pipeline or stage.")
    handler_convention: HandlerConventionEnum = strawberry.field(
        description="How its handler is called (read from the handler's signature on save)."
    )
    workflow_id: strawberry.ID = strawberry.field(
        description="The workflow the action belongs to (directly or through its pipeline or stage)."
    )
    pipeline_id: strawberry.ID | None = strawberry.field(
        description="Its pipeline, for pipeline actions."
    )
    stage_id: strawberry.ID | None = strawberry.field(description="Its stage, for stage actions.")

    @classmethod
    def from_model(cls, action: WorkflowAction) -> WorkflowActionType:
        workflow_id: int | None
        if action.stage_id:
            assert action.stage is not None
            workflow_id = action.stage.pipeline.workflow_id
        elif action.pipeline_id:
            assert action.pipeline is not None
            workflow_id = action.pipeline.workflow_id
        else:
            workflow_id = action.workflow_id
        return cls(
            database_id=action.pk,
            action_type=ActionTypeEnum(action.action_type),
            function_path=action.function_path,
            parameters=action.parameters,
            order=action.order,
            is_active=action.is_active,
            failure_policy=FailurePolicyEnum(action.failure_policy),
            scope_level=ActionScopeLevel(action.scope_level),
            handler_convention=HandlerConventionEnum(action.handler_convention),
            workflow_id=global_id("Workflow", workflow_id),
            pipeline_id=optional_global_id("Pipeline", action.pipeline_id or None),
            stage_id=optional_global_id("Stage", action.stage_id or None),
        )


@strawberry.type(
    name="CleanupAgeBucket", description="Finished attachments older than a number of days."
)
class CleanupAgeBucketType:
    days: int = strawberry.field(description="Age threshold in days.")
    count: int = strawberry.field(description="Completed or rejected attachments older than that.")


@strawberry.type(
    name="CleanupStatistics",
    description="What `manage.py cleanup_workflows` could delete, over every company.",
)
class CleanupStatisticsType:
    total_attachments: int = strawberry.field(description="Every attachment.")
    not_started_attachments: int = strawberry.field(description="Attached, not started.")
    in_progress_attachments: int = strawberry.field(description="Running.")
    completed_attachments: int = strawberry.field(description="Completed.")
    rejected_attachments: int = strawberry.field(description="Rejected.")
    cancelled_attachments: int = strawberry.field(description="Cancelled.")
    finished_attachments: int = strawberry.field(description="Completed plus rejected.")
    by_age: list[CleanupAgeBucketType] = strawberry.field(
        description="Completed or rejected attachments older than 30, 90 and 365 days."
    )
    recommended_days: int | None = strawberry.field(
        description="Suggested --days for cleanup_workflows, or null when nothing is old enough."
    )
    report: str = strawberry.field(
        description="The same figures as `cleanup_workflows --stats` prints."
    )


# ----------------------------------------------------------------------------- inputs and payloads


@strawberry.input(
    name="ActionScopeInput",
    one_of=True,
    description="What a new action belongs to: exactly one of a workflow, a pipeline or a stage of "
    "a template (the request is refused before anything runs when none or several are given).",
)
class ActionScopeInput:
    workflow_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The workflow's global id: the action runs for events anywhere in it.",
    )
    pipeline_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The pipeline's global id: the action runs for events of its stages.",
    )
    stage_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The stage's global id: the action runs for events of that stage only.",
    )


@strawberry.input(
    name="CreateWorkflowActionInput",
    description="A new action of a template, at the level its scope names.",
)
class CreateWorkflowActionInput:
    scope: ActionScopeInput = strawberry.field(
        description="The workflow, pipeline or stage the action belongs to (exactly one)."
    )
    action_type: ActionTypeEnum = strawberry.field(description="When it runs.")
    function_path: str = strawberry.field(
        description="Dotted path of a registered handler or one in WORKFLOW_ACTION_ALLOWED_MODULES."
    )
    parameters: JSON | None = strawberry.field(
        default=None, description="JSON object for the handler."
    )
    order: int | None = strawberry.field(default=None, description="Position (default: last).")
    is_active: bool = strawberry.field(default=True, description="Whether it runs.")
    failure_policy: FailurePolicyEnum = strawberry.field(
        default=FailurePolicyEnum("continue"), description="CONTINUE (default) or STOP."
    )


@strawberry.input(
    name="WorkflowActionSpecInput",
    description=(
        "An action given inline with a workflow, pipeline or stage (createWorkflow, addPipeline, "
        "addStage, and the update inputs, where the list replaces that level's actions)."
    ),
)
class WorkflowActionSpecInput:
    action_type: ActionTypeEnum = strawberry.field(description="When it runs.")
    function_path: str = strawberry.field(
        description="Dotted path of a registered handler or one in WORKFLOW_ACTION_ALLOWED_MODULES."
    )
    parameters: JSON | None = strawberry.field(
        default=None, description="JSON object for the handler."
    )
    order: int | None = strawberry.field(
        default=None, description="Position (default: 1, 2, ... per action type)."
    )
    is_active: bool = strawberry.field(default=True, description="Whether it runs.")
    failure_policy: FailurePolicyEnum = strawberry.field(
        default=FailurePolicyEnum("continue"), description="CONTINUE (default) or STOP."
    )


def _value(item: Any) -> Any:
    return getattr(item, "value", item)


def action_specs(items: list[WorkflowActionSpecInput] | None) -> list[dict[str, Any]] | None:
    """Turn inline action inputs into the dicts ``create_workflow(actions=...)`` takes."""
    if items is None:
        return None
    return [
        {
            "action_type": _value(item.action_type),
            "function_path": item.function_path,
            "parameters": item.parameters,
            "order": item.order,
            "is_active": item.is_active,
            "failure_policy": _value(item.failure_policy),
        }
        for item in items
    ]


@strawberry.input(
    name="UpdateWorkflowActionInput",
    description="Changes to an action; null leaves a field as it is.",
)
class UpdateWorkflowActionInput:
    id: strawberry.ID = strawberry.field(description="Action id.")
    action_type: ActionTypeEnum | None = strawberry.field(default=None, description="When it runs.")
    function_path: str | None = strawberry.field(
        default=None, description="Handler path (checked)."
    )
    parameters: JSON | None = strawberry.field(default=None, description="Replace the parameters.")
    order: int | None = strawberry.field(default=None, description="Position.")
    is_active: bool | None = strawberry.field(default=None, description="Whether it runs.")
    failure_policy: FailurePolicyEnum | None = strawberry.field(
        default=None, description="CONTINUE or STOP."
    )
