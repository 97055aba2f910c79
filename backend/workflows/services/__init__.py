"""The engine's public Python API: every write, plus the seed's read helpers, in one import path.

from backend.workflows.services import attach_workflow_to_object, approve_stage
"""

from backend.workflows.cleanup import (
    cleanup_completed_workflow_attachments,
    get_cleanup_statistics,
)
from backend.workflows.selectors import (
    get_current_stage,
    get_pending_approvals_for_user,
    get_workflow_attachment,
    get_workflow_progress,
    user_requires_action,
)
from backend.workflows.services.absence import (
    clear_out_of_office,
    get_out_of_office,
    set_out_of_office,
)
from backend.workflows.services.actions import (
    create_workflow_action,
    delete_workflow_action,
    update_workflow_action,
)
from backend.workflows.services.building import (
    add_pipeline,
    add_stage,
    clone_workflow,
    create_workflow,
    delete_workflow,
    remove_pipeline,
    remove_stage,
    reorder_stages,
    set_pipeline_department,
    update_pipeline,
    update_stage,
    update_workflow,
)
from backend.workflows.services.bulk import approve_stages, reject_stages
from backend.workflows.services.detailed_data import (
    get_detailed_workflow_data,
    get_workflow_approval_summary,
    get_workflow_pipeline_structure,
    get_workflow_statistics,
)
from backend.workflows.services.registration import (
    get_auto_start_workflow_for_object,
    get_available_workflows_for_selection,
    get_workflows_for_model,
    get_workflows_for_object,
    is_model_enabled_for_workflows,
    is_model_workflow_enabled,
    register_model_for_workflow,
)
from backend.workflows.services.running import (
    approve_stage,
    attach_workflow_to_object,
    cancel_workflow,
    check_in_stage,
    decide_on_attachment,
    delegate_stage,
    reassign_stage,
    reject_stage,
    request_resubmission,
    start_attachment,
    start_workflow,
    verify_stage,
)

# The seed's name for starting a workflow on an object.
start_workflow_for_object = start_workflow

# Imported last: it builds on the decisions above.
from backend.workflows.services.deadlines import process_deadlines  # noqa: E402

__all__ = [
    "add_pipeline",
    "add_stage",
    "approve_stage",
    "approve_stages",
    "clear_out_of_office",
    "get_out_of_office",
    "process_deadlines",
    "reassign_stage",
    "reject_stages",
    "set_out_of_office",
    "attach_workflow_to_object",
    "cancel_workflow",
    "check_in_stage",
    "decide_on_attachment",
    "cleanup_completed_workflow_attachments",
    "clone_workflow",
    "create_workflow",
    "create_workflow_action",
    "delegate_stage",
    "delete_workflow",
    "delete_workflow_action",
    "get_auto_start_workflow_for_object",
    "get_available_workflows_for_selection",
    "get_cleanup_statistics",
    "get_current_stage",
    "get_detailed_workflow_data",
    "get_pending_approvals_for_user",
    "get_workflow_approval_summary",
    "get_workflow_attachment",
    "get_workflow_pipeline_structure",
    "get_workflow_progress",
    "get_workflow_statistics",
    "get_workflows_for_model",
    "get_workflows_for_object",
    "is_model_enabled_for_workflows",
    "is_model_workflow_enabled",
    "register_model_for_workflow",
    "reject_stage",
    "remove_pipeline",
    "remove_stage",
    "reorder_stages",
    "request_resubmission",
    "set_pipeline_department",
    "start_attachment",
    "start_workflow",
    "start_workflow_for_object",
    "update_pipeline",
    "update_stage",
    "update_workflow",
    "update_workflow_action",
    "user_requires_action",
    "verify_stage",
]
