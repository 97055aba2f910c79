"""Cross-tenant matrix: a user of Globex holding Acme's ids can neither see nor change Acme's data.

Every query and every mutation is called by Globex's company account (the most powerful
non-superuser of Globex, so a tenant check cannot hide behind a permission check) with Acme's
ids; each answers NOT_FOUND (or an empty list, or null) and the database does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from backend.workflows.constants import AttachmentStatus
from backend.workflows.models import Pipeline, Stage, WorkflowAttachment
from backend.workflows.services import attach_workflow_to_object, check_in_stage
from tests.support.database_state import attachment_state, database_state, event_types
from tests.support.helpers import (
    api_token_for,
    approvers_of,
    database_id_of,
    global_id,
    graphql,
    make_purchase_request,
)
from tests.support.workflow_builders import attached_request, two_stage_workflow, user_approval

pytestmark = pytest.mark.django_db

PURCHASE_REQUEST = "demo.purchaserequest"
ERROR = "error { code message field }"

# ----------------------------------------------------------------------------- queries

ME = "query { me { user { username } company { id name } roles { name } } }"
WORKFLOWS = """
query($companyId: ID, $filter: WorkflowFilter) {
  workflows(first: 100, companyId: $companyId, filter: $filter) { totalCount edges { node { id } } }
}
"""
WORKFLOW = "query($id: ID!) { workflow(id: $id) { id nameEn } }"
WORKFLOW_ATTACHMENT = "query($id: ID!) { workflowAttachment(id: $id) { id status } }"
WORKFLOW_ATTACHMENT_FOR = """
query($model: String!, $objectId: ID!) { workflowAttachmentFor(model: $model, objectId: $objectId) { id } }
"""
WORKFLOW_ATTACHMENTS = """
query($filter: WorkflowAttachmentFilter) {
  workflowAttachments(first: 100, filter: $filter) { totalCount edges { node { id } } }
}
"""
MY_PENDING_APPROVALS = (
    "query { myPendingApprovals(first: 100) { totalCount edges { node { id } } } }"
)
WORKFLOW_PIPELINE_STRUCTURE = (
    "query($id: ID!) { workflowPipelineStructure(id: $id) { workflowId } }"
)
WORKFLOW_APPROVAL_SUMMARY = (
    "query($id: ID!) { workflowApprovalSummary(id: $id) { totalApprovals } }"
)
WORKFLOW_STATISTICS = """
query($companyId: ID) {
  workflowStatistics(companyId: $companyId) { overview { totalWorkflows } byCompany { company workflows } }
}
"""

# ----------------------------------------------------------------------------- mutations

CREATE_WORKFLOW = f"""
mutation($input: CreateWorkflowInput!) {{ createWorkflow(input: $input) {{ workflow {{ id }} {ERROR} }} }}
"""
UPDATE_WORKFLOW = f"""
mutation($input: UpdateWorkflowInput!) {{ updateWorkflow(input: $input) {{ workflow {{ id }} {ERROR} }} }}
"""
DELETE_WORKFLOW = (
    f"mutation($id: ID!) {{ deleteWorkflow(input: {{id: $id}}) {{ deletedId {ERROR} }} }}"
)
CLONE_WORKFLOW = (
    f"mutation($id: ID!) {{ cloneWorkflow(input: {{id: $id}}) {{ workflow {{ id }} {ERROR} }} }}"
)
ADD_PIPELINE = f"""
mutation($input: AddPipelineInput!) {{ addPipeline(input: $input) {{ pipeline {{ id }} {ERROR} }} }}
"""
UPDATE_PIPELINE = f"""
mutation($input: UpdatePipelineInput!) {{ updatePipeline(input: $input) {{ pipeline {{ id }} {ERROR} }} }}
"""
REMOVE_PIPELINE = (
    f"mutation($id: ID!) {{ deletePipeline(input: {{id: $id}}) {{ deletedId {ERROR} }} }}"
)
ADD_STAGE = f"""
mutation($input: AddStageInput!) {{ addStage(input: $input) {{ stage {{ id }} {ERROR} }} }}
"""
UPDATE_STAGE = f"""
mutation($input: UpdateStageInput!) {{ updateStage(input: $input) {{ stage {{ id }} {ERROR} }} }}
"""
REMOVE_STAGE = f"mutation($id: ID!) {{ deleteStage(input: {{id: $id}}) {{ deletedId {ERROR} }} }}"
REORDER_STAGES = f"""
mutation($input: ReorderStagesInput!) {{ reorderStages(input: $input) {{ pipeline {{ id }} {ERROR} }} }}
"""
ATTACH_WORKFLOW = f"""
mutation($input: AttachWorkflowInput!) {{ attachWorkflow(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
START_WORKFLOW = f"""
mutation($attachmentId: ID!) {{ startWorkflow(input: {{attachmentId: $attachmentId}}) {{ attachment {{ id }} {ERROR} }} }}
"""
CANCEL_WORKFLOW = f"""
mutation($input: CancelWorkflowInput!) {{ cancelWorkflow(input: $input) {{ attachment {{ id status }} {ERROR} }} }}
"""
APPROVE_STAGE = f"""
mutation($input: ApproveStageInput!) {{ approveStage(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
CHECK_IN_STAGE = f"""
mutation($input: CheckInStageInput!) {{ checkInStage(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
VERIFY_STAGE = f"""
mutation($input: VerifyStageInput!) {{ verifyStage(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
REJECT_STAGE = f"""
mutation($input: RejectStageInput!) {{ rejectStage(input: $input) {{ attachment {{ id status }} {ERROR} }} }}
"""
DELEGATE_STAGE = f"""
mutation($input: DelegateStageInput!) {{ delegateStage(input: $input) {{ attachment {{ id }} {ERROR} }} }}
"""
REQUEST_RESUBMISSION = f"""
mutation($input: RequestResubmissionInput!) {{
  requestResubmission(input: $input) {{ attachment {{ id }} {ERROR} }}
}}
"""


# ----------------------------------------------------------------------------- data


@dataclass
class Tenants:
    """Ids of both tenants' rows, and a token for Globex's company account."""

    acme: Any
    globex: Any
    globex_token: str
    acme_workflow: int
    acme_running_copy: int
    acme_pipeline: int
    acme_stages: list[int]
    acme_request: int
    acme_running: WorkflowAttachment
    acme_waiting_request: int
    acme_waiting: WorkflowAttachment
    globex_workflow: int
    globex_pipeline: int
    globex_stages: list[int]
    globex_request: int
    globex_running: WorkflowAttachment


@pytest.fixture
def tenants(acme, globex) -> Tenants:
    """Acme with one running and one not-started attachment; Globex with one running attachment."""
    acme_request = make_purchase_request(acme, title="Acme laptops")
    acme_running = attach_workflow_to_object(
        obj=acme_request, workflow=acme.workflow, user=acme.user("requester")
    )
    acme_waiting_request = make_purchase_request(acme, title="Acme chairs")
    acme_waiting = attach_workflow_to_object(
        obj=acme_waiting_request,
        workflow=acme.workflow,
        user=acme.user("requester"),
        auto_start=False,
    )
    globex_request = make_purchase_request(globex, title="Globex desks")
    globex_running = attach_workflow_to_object(
        obj=globex_request, workflow=globex.workflow, user=globex.user("requester")
    )
    acme_pipeline = Pipeline.objects.filter(workflow=acme.workflow).order_by("order").first()
    globex_pipeline = Pipeline.objects.filter(workflow=globex.workflow).order_by("order").first()
    return Tenants(
        acme=acme,
        globex=globex,
        globex_token=api_token_for(globex.company),
        acme_workflow=acme.workflow.pk,
        acme_running_copy=acme_running.workflow_id,
        acme_pipeline=acme_pipeline.pk,
        acme_stages=list(acme_pipeline.stages.order_by("order").values_list("pk", flat=True)),
        acme_request=acme_request.pk,
        acme_running=acme_running,
        acme_waiting_request=acme_waiting_request.pk,
        acme_waiting=acme_waiting,
        globex_workflow=globex.workflow.pk,
        globex_pipeline=globex_pipeline.pk,
        globex_stages=list(globex_pipeline.stages.order_by("order").values_list("pk", flat=True)),
        globex_request=globex_request.pk,
        globex_running=globex_running,
    )


def as_globex(client, tenants: Tenants, query: str, variables: dict | None = None) -> dict:
    return graphql(client, query, variables, token=tenants.globex_token)


# ----------------------------------------------------------------------------- queries


def test_me_is_the_viewers_own_company(client, tenants):
    body = as_globex(client, tenants, ME)

    assert body == {
        "data": {
            "me": {
                "user": {"username": "globex"},
                "company": {
                    "id": global_id("Company", tenants.globex.company.pk),
                    "name": "Globex",
                },
                "roles": [],
            }
        }
    }


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        pytest.param(
            WORKFLOW,
            lambda t: {"id": t.acme_workflow},
            "Workflow not found.",
            id="workflow-template",
        ),
        pytest.param(
            WORKFLOW,
            lambda t: {"id": t.acme_running_copy},
            "Workflow not found.",
            id="workflow-running-copy",
        ),
        pytest.param(
            WORKFLOW_ATTACHMENT,
            lambda t: {"id": t.acme_running.pk},
            "Workflow attachment not found.",
            id="workflowAttachment",
        ),
        pytest.param(
            WORKFLOW_PIPELINE_STRUCTURE,
            lambda t: {"id": t.acme_workflow},
            "Workflow not found.",
            id="workflowPipelineStructure",
        ),
        pytest.param(
            WORKFLOW_APPROVAL_SUMMARY,
            lambda t: {"id": t.acme_workflow},
            "Workflow not found.",
            id="workflowApprovalSummary",
        ),
    ],
)
def test_query_by_id_of_another_tenant_is_not_found(client, tenants, query, variables, message):
    # given
    before = database_state()

    # when
    body = as_globex(client, tenants, query, variables(tenants))

    # then: the single-object root field is null, its error on it
    assert list(body["data"].values()) == [None]
    (error,) = body["errors"]
    assert (error["message"], error["extensions"]) == (
        message,
        {"code": "NOT_FOUND", "field": "id"},
    )
    assert database_state() == before


def test_workflow_attachment_for_an_object_of_another_tenant_is_null(client, tenants):
    body = as_globex(
        client,
        tenants,
        WORKFLOW_ATTACHMENT_FOR,
        {"model": PURCHASE_REQUEST, "objectId": tenants.acme_request},
    )

    assert body == {"data": {"workflowAttachmentFor": None}}


@pytest.mark.parametrize(
    ("query", "field", "variables", "expected"),
    [
        pytest.param(
            WORKFLOWS, "workflows", lambda t: {}, lambda t: [t.globex_workflow], id="workflows"
        ),
        pytest.param(
            WORKFLOWS,
            "workflows",
            lambda t: {"companyId": t.acme.company.pk},
            lambda t: [t.globex_workflow],
            id="workflows-companyId-ignored-for-non-superusers",
        ),
        pytest.param(
            WORKFLOWS,
            "workflows",
            lambda t: {"filter": {"departmentId": t.acme.departments["Finance"].pk}},
            lambda t: [],
            id="workflows-filter-acme-department",
        ),
        pytest.param(
            WORKFLOW_ATTACHMENTS,
            "workflowAttachments",
            lambda t: {},
            lambda t: [t.globex_running.pk],
            id="workflowAttachments",
        ),
        pytest.param(
            WORKFLOW_ATTACHMENTS,
            "workflowAttachments",
            lambda t: {"filter": {"workflowId": t.acme_workflow}},
            lambda t: [],
            id="workflowAttachments-filter-acme-workflow",
        ),
        pytest.param(
            WORKFLOW_ATTACHMENTS,
            "workflowAttachments",
            lambda t: {"filter": {"stageId": t.acme_stages[0]}},
            lambda t: [],
            id="workflowAttachments-filter-acme-stage",
        ),
        pytest.param(
            MY_PENDING_APPROVALS,
            "myPendingApprovals",
            lambda t: {},
            lambda t: [],
            id="myPendingApprovals",
        ),
    ],
)
def test_lists_hold_only_the_viewers_company(client, tenants, query, field, variables, expected):
    body = as_globex(client, tenants, query, variables(tenants))

    assert "errors" not in body, body
    ids = [database_id_of(edge["node"]["id"]) for edge in body["data"][field]["edges"]]
    assert ids == expected(tenants)
    assert body["data"][field]["totalCount"] == len(expected(tenants))


@pytest.mark.parametrize(
    "company_id", [None, "acme"], ids=["own", "companyId-ignored-for-non-superusers"]
)
def test_workflow_statistics_count_only_the_viewers_company(client, tenants, company_id):
    # given: Acme has three templates, Globex one
    two_stage_workflow(tenants.acme, user_approval(tenants.acme.user("cfo")), name="Second")
    two_stage_workflow(tenants.acme, user_approval(tenants.acme.user("cfo")), name="Third")
    variables = {"companyId": tenants.acme.company.pk} if company_id else {}

    # when
    body = as_globex(client, tenants, WORKFLOW_STATISTICS, variables)

    # then
    assert "errors" not in body, body
    statistics = body["data"]["workflowStatistics"]
    assert statistics["overview"] == {"totalWorkflows": 1}
    assert [row["company"] for row in statistics["byCompany"]] == ["globex"]


def test_pending_approvals_of_an_acme_approver_do_not_show_to_globex(client, tenants):
    # Sanity check of the case above: the Acme approver does see the Acme step.
    approver = approvers_of(tenants.acme_running)[0]
    user = next(u for u in tenants.acme.users.values() if u.username == approver)

    body = graphql(client, MY_PENDING_APPROVALS, user=user)

    assert [
        database_id_of(e["node"]["id"]) for e in body["data"]["myPendingApprovals"]["edges"]
    ] == [tenants.acme_running.pk]


# ----------------------------------------------------------------------------- mutations

WORKFLOW_NOT_FOUND = ("Workflow not found.", "id")
PIPELINE_NOT_FOUND = ("Pipeline not found.", "pipelineId")
ATTACHMENT_NOT_FOUND = ("Workflow attachment not found.", "attachmentId")

MUTATION_CASES = [
    pytest.param(
        UPDATE_WORKFLOW,
        "updateWorkflow",
        lambda t: {"input": {"id": t.acme_workflow, "nameEn": "Hijacked"}},
        WORKFLOW_NOT_FOUND,
        id="updateWorkflow",
    ),
    pytest.param(
        UPDATE_WORKFLOW,
        "updateWorkflow",
        lambda t: {"input": {"id": t.acme_running_copy, "isActive": False}},
        WORKFLOW_NOT_FOUND,
        id="updateWorkflow-running-copy",
    ),
    pytest.param(
        DELETE_WORKFLOW,
        "deleteWorkflow",
        lambda t: {"id": t.acme_workflow},
        WORKFLOW_NOT_FOUND,
        id="deleteWorkflow",
    ),
    pytest.param(
        CLONE_WORKFLOW,
        "cloneWorkflow",
        lambda t: {"id": t.acme_workflow},
        WORKFLOW_NOT_FOUND,
        id="cloneWorkflow",
    ),
    pytest.param(
        ADD_PIPELINE,
        "addPipeline",
        lambda t: {
            "input": {"workflowId": t.acme_workflow, "nameEn": "Injected", "stages": {"blank": 1}}
        },
        WORKFLOW_NOT_FOUND,
        id="addPipeline",
    ),
    pytest.param(
        UPDATE_PIPELINE,
        "updatePipeline",
        lambda t: {"input": {"id": t.acme_pipeline, "nameEn": "Hijacked"}},
        ("Pipeline not found.", "id"),
        id="updatePipeline",
    ),
    pytest.param(
        REMOVE_PIPELINE,
        "deletePipeline",
        lambda t: {"id": t.acme_pipeline},
        ("Pipeline not found.", "id"),
        id="deletePipeline",
    ),
    pytest.param(
        ADD_STAGE,
        "addStage",
        lambda t: {"input": {"pipelineId": t.acme_pipeline, "nameEn": "Injected"}},
        PIPELINE_NOT_FOUND,
        id="addStage",
    ),
    pytest.param(
        UPDATE_STAGE,
        "updateStage",
        lambda t: {"input": {"id": t.acme_stages[0], "nameEn": "Hijacked"}},
        ("Stage not found.", "id"),
        id="updateStage",
    ),
    pytest.param(
        REMOVE_STAGE,
        "deleteStage",
        lambda t: {"id": t.acme_stages[0]},
        ("Stage not found.", "id"),
        id="deleteStage",
    ),
    pytest.param(
        REORDER_STAGES,
        "reorderStages",
        lambda t: {"input": {"pipelineId": t.acme_pipeline, "stageIds": t.acme_stages[::-1]}},
        PIPELINE_NOT_FOUND,
        id="reorderStages",
    ),
    pytest.param(
        REORDER_STAGES,
        "reorderStages",
        lambda t: {
            "input": {
                "pipelineId": t.globex_pipeline,
                "stageIds": [*t.globex_stages[1:], t.acme_stages[0]],
            }
        },
        ("Stage {acme_stage} is not part of this pipeline.", "stageIds"),
        id="reorderStages-own-pipeline-acme-stage",
    ),
    pytest.param(
        ATTACH_WORKFLOW,
        "attachWorkflow",
        lambda t: {
            "input": {
                "model": PURCHASE_REQUEST,
                "objectId": t.acme_request,
                "workflowId": t.acme_workflow,
            }
        },
        ("Object not found.", "objectId"),
        id="attachWorkflow",
    ),
    pytest.param(
        ATTACH_WORKFLOW,
        "attachWorkflow",
        lambda t: {
            "input": {
                "model": PURCHASE_REQUEST,
                "objectId": t.acme_waiting_request,
                "workflowId": t.globex_workflow,
            }
        },
        ("Object not found.", "objectId"),
        id="attachWorkflow-own-workflow-acme-object",
    ),
    pytest.param(
        ATTACH_WORKFLOW,
        "attachWorkflow",
        lambda t: {
            "input": {
                "model": PURCHASE_REQUEST,
                "objectId": t.globex_request,
                "workflowId": t.acme_workflow,
            }
        },
        ("Workflow not found.", "workflowId"),
        id="attachWorkflow-own-object-acme-workflow",
    ),
    pytest.param(
        START_WORKFLOW,
        "startWorkflow",
        lambda t: {"attachmentId": t.acme_waiting.pk},
        ATTACHMENT_NOT_FOUND,
        id="startWorkflow",
    ),
    pytest.param(
        CANCEL_WORKFLOW,
        "cancelWorkflow",
        lambda t: {"input": {"attachmentId": t.acme_running.pk, "reason": "Hijacked"}},
        ATTACHMENT_NOT_FOUND,
        id="cancelWorkflow",
    ),
    pytest.param(
        APPROVE_STAGE,
        "approveStage",
        lambda t: {"input": {"attachmentId": t.acme_running.pk, "formData": {"budget_code": "X"}}},
        ATTACHMENT_NOT_FOUND,
        id="approveStage",
    ),
    pytest.param(
        CHECK_IN_STAGE,
        "checkInStage",
        lambda t: {"input": {"attachmentId": t.acme_running.pk}},
        ATTACHMENT_NOT_FOUND,
        id="checkInStage",
    ),
    pytest.param(
        VERIFY_STAGE,
        "verifyStage",
        lambda t: {"input": {"attachmentId": t.acme_running.pk, "formData": {"budget_code": "X"}}},
        ATTACHMENT_NOT_FOUND,
        id="verifyStage",
    ),
    pytest.param(
        REJECT_STAGE,
        "rejectStage",
        lambda t: {"input": {"attachmentId": t.acme_running.pk, "reason": "Hijacked"}},
        ATTACHMENT_NOT_FOUND,
        id="rejectStage",
    ),
    pytest.param(
        DELEGATE_STAGE,
        "delegateStage",
        lambda t: {"input": {"attachmentId": t.acme_running.pk, "toUserId": t.globex.company.pk}},
        ATTACHMENT_NOT_FOUND,
        id="delegateStage",
    ),
    pytest.param(
        REQUEST_RESUBMISSION,
        "requestResubmission",
        lambda t: {
            "input": {
                "attachmentId": t.acme_running.pk,
                "stageId": t.acme_stages[0],
                "reason": "Hijacked",
            }
        },
        ATTACHMENT_NOT_FOUND,
        id="requestResubmission",
    ),
    pytest.param(
        "mutation($input: ReassignStageInput!) { reassignStage(input: $input) "
        "{ attachment { id } error { code message field } } }",
        "reassignStage",
        lambda t: {
            "input": {
                "attachmentId": t.acme_running.pk,
                "toUserId": t.globex.user("cfo").pk,
                "reason": "Hijacked",
            }
        },
        ATTACHMENT_NOT_FOUND,
        id="reassignStage",
    ),
]


@pytest.mark.parametrize(("mutation", "field", "variables", "expected"), MUTATION_CASES)
def test_mutation_with_ids_of_another_tenant_is_not_found_and_changes_nothing(
    client, tenants, mutation, field, variables, expected
):
    # given
    before = database_state()
    message, error_field = expected

    # when
    body = as_globex(client, tenants, mutation, variables(tenants))

    # then
    assert "errors" not in body, body
    payload = body["data"][field]
    assert payload["error"] == {
        "code": "NOT_FOUND",
        "message": message.format(acme_stage=tenants.acme_stages[0]),
        "field": error_field,
    }
    assert [value for key, value in payload.items() if key != "error"] == [None]
    assert database_state() == before


def test_resubmission_to_a_stage_of_another_tenant_is_not_found(client, tenants):
    # given: a Globex approver on Globex's own attachment names an Acme stage
    approver_name = approvers_of(tenants.globex_running)[0]
    approver = next(u for u in tenants.globex.users.values() if u.username == approver_name)
    before = database_state()

    # when
    body = graphql(
        client,
        REQUEST_RESUBMISSION,
        {
            "input": {
                "attachmentId": tenants.globex_running.pk,
                "stageId": tenants.acme_stages[0],
                "reason": "Back to Acme",
            }
        },
        user=approver,
    )

    # then
    assert body["data"]["requestResubmission"] == {
        "attachment": None,
        "error": {
            "code": "NOT_FOUND",
            "message": "That stage is not part of this workflow.",
            "field": "stageId",
        },
    }
    assert database_state() == before


def test_delegating_to_a_user_of_another_company_is_not_found(client, tenants):
    # given: the Acme approver of the current step
    approver_name = approvers_of(tenants.acme_running)[0]
    approver = next(u for u in tenants.acme.users.values() if u.username == approver_name)
    before = database_state()

    # when
    body = graphql(
        client,
        DELEGATE_STAGE,
        {
            "input": {
                "attachmentId": tenants.acme_running.pk,
                "toUserId": tenants.globex.user("employee").pk,
            }
        },
        user=approver,
    )

    # then
    assert body["data"]["delegateStage"] == {
        "attachment": None,
        "error": {"code": "NOT_FOUND", "message": "User not found.", "field": "toUserId"},
    }
    assert database_state() == before


# ----------------------------------------------------------------------------- approval configs


def _approval_of_acme(tenants: Tenants, kind: str) -> dict[str, Any]:
    acme = tenants.acme
    if kind == "user":
        return {"approvalType": "USER", "userId": acme.user("cfo").pk}
    if kind == "role":
        return {"approvalType": "ROLE", "roleId": acme.roles["Executive"].pk}
    # a form of Acme on an otherwise valid Globex approval
    return {
        "approvalType": "USER",
        "userId": tenants.globex.user("cfo").pk,
        "formId": acme.forms["Initial Review Form"].pk,
    }


def _expected_message(tenants: Tenants, kind: str) -> str:
    acme = tenants.acme
    return {
        "user": f"User {acme.user('cfo').pk} does not belong to this company.",
        "role": f"Role {acme.roles['Executive'].pk} has members outside this company.",
        "form": f"Form {acme.forms['Initial Review Form'].pk} does not exist.",
    }[kind]


# The error names the approval's input field as the GraphQL client sent it.
KEY_OF = {"user": "userId", "role": "roleId", "form": "formId"}


@pytest.mark.parametrize("kind", ["user", "role", "form"])
@pytest.mark.parametrize(
    ("mutation", "field", "variables", "error_prefix"),
    [
        pytest.param(
            CREATE_WORKFLOW,
            "createWorkflow",
            lambda t, approval: {
                "input": {
                    "nameEn": "Borrowed approvers",
                    "pipelines": [
                        {
                            "nameEn": "Main",
                            "stages": {"list": [{"nameEn": "Step", "approvals": [approval]}]},
                        }
                    ],
                }
            },
            "pipelines[0].stages[0].approvals[0]",
            id="createWorkflow",
        ),
        pytest.param(
            ADD_PIPELINE,
            "addPipeline",
            lambda t, approval: {
                "input": {
                    "workflowId": t.globex_workflow,
                    "nameEn": "Borrowed",
                    "stages": {"list": [{"nameEn": "Step", "approvals": [approval]}]},
                }
            },
            "pipelines[0].stages[0].approvals[0]",
            id="addPipeline",
        ),
        pytest.param(
            ADD_STAGE,
            "addStage",
            lambda t, approval: {
                "input": {
                    "pipelineId": t.globex_pipeline,
                    "nameEn": "Borrowed",
                    "approvals": [approval],
                }
            },
            "approvals[0]",
            id="addStage",
        ),
        pytest.param(
            UPDATE_STAGE,
            "updateStage",
            lambda t, approval: {"input": {"id": t.globex_stages[0], "approvals": [approval]}},
            "approvals[0]",
            id="updateStage",
        ),
    ],
)
def test_approval_config_naming_another_tenants_user_role_or_form_is_invalid(
    client, tenants, mutation, field, variables, error_prefix, kind
):
    # given
    before = database_state()

    # when
    body = as_globex(
        client, tenants, mutation, variables(tenants, _approval_of_acme(tenants, kind))
    )

    # then
    assert "errors" not in body, body
    assert body["data"][field]["error"] == {
        "code": "VALIDATION_ERROR",
        "message": _expected_message(tenants, kind),
        "field": f"{error_prefix}.{KEY_OF[kind]}",
    }
    assert database_state() == before


@pytest.mark.parametrize(
    ("mutation", "field", "variables", "error_field"),
    [
        pytest.param(
            CREATE_WORKFLOW,
            "createWorkflow",
            lambda t, department: {
                "input": {
                    "nameEn": "Borrowed",
                    "pipelines": [{"nameEn": "Main", "departmentId": department}],
                }
            },
            "pipelines[0].department_id",
            id="createWorkflow",
        ),
        pytest.param(
            ADD_PIPELINE,
            "addPipeline",
            lambda t, department: {
                "input": {
                    "workflowId": t.globex_workflow,
                    "nameEn": "Borrowed",
                    "departmentId": department,
                }
            },
            "pipelines[0].department_id",
            id="addPipeline",
        ),
        pytest.param(
            UPDATE_PIPELINE,
            "updatePipeline",
            lambda t, department: {"input": {"id": t.globex_pipeline, "departmentId": department}},
            "department_id",
            id="updatePipeline",
        ),
    ],
)
def test_pipeline_naming_another_tenants_department_is_invalid(
    client, tenants, mutation, field, variables, error_field
):
    # given
    department = tenants.acme.departments["Finance"].pk
    before = database_state()

    # when
    body = as_globex(client, tenants, mutation, variables(tenants, department))

    # then
    assert body["data"][field]["error"] == {
        "code": "VALIDATION_ERROR",
        "message": f"Department {department} does not belong to this company.",
        "field": error_field,
    }
    assert database_state() == before


# ----------------------------------------------------------------------------- anonymous

ANONYMOUS_QUERIES = [
    pytest.param(WORKFLOWS, lambda t: {}, id="workflows"),
    pytest.param(WORKFLOW, lambda t: {"id": t.acme_workflow}, id="workflow"),
    pytest.param(WORKFLOW_ATTACHMENT, lambda t: {"id": t.acme_running.pk}, id="workflowAttachment"),
    pytest.param(
        WORKFLOW_ATTACHMENT_FOR,
        lambda t: {"model": PURCHASE_REQUEST, "objectId": t.acme_request},
        id="workflowAttachmentFor",
    ),
    pytest.param(WORKFLOW_ATTACHMENTS, lambda t: {}, id="workflowAttachments"),
    pytest.param(MY_PENDING_APPROVALS, lambda t: {}, id="myPendingApprovals"),
    pytest.param(
        WORKFLOW_PIPELINE_STRUCTURE,
        lambda t: {"id": t.acme_workflow},
        id="workflowPipelineStructure",
    ),
    pytest.param(
        WORKFLOW_APPROVAL_SUMMARY, lambda t: {"id": t.acme_workflow}, id="workflowApprovalSummary"
    ),
    pytest.param(WORKFLOW_STATISTICS, lambda t: {}, id="workflowStatistics"),
    pytest.param(
        "query($id: ID) { workflowActions(workflowId: $id) { id } }",
        lambda t: {"id": t.acme_workflow},
        id="workflowActions",
    ),
    pytest.param(
        "query { cleanupStatistics { totalAttachments } }", lambda t: {}, id="cleanupStatistics"
    ),
    pytest.param(
        'query($id: ID) { availableWorkflows(model: "demo.purchaserequest", objectId: $id) { id } }',
        lambda t: {"id": t.acme_request},
        id="availableWorkflows",
    ),
    pytest.param("query { colleagues { id } }", lambda t: {}, id="colleagues"),
    pytest.param("query { roles { id } }", lambda t: {}, id="roles"),
    pytest.param("query { workflowModels { model } }", lambda t: {}, id="workflowModels"),
    pytest.param("query { forms { id } }", lambda t: {}, id="forms"),
    pytest.param("query { departments { id } }", lambda t: {}, id="departments"),
    pytest.param(
        "query($id: ID!) { node(id: $id) { id } }",
        lambda t: {"id": global_id("Workflow", t.acme_workflow)},
        id="node",
    ),
    pytest.param(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        lambda t: {"ids": [global_id("Workflow", t.acme_workflow)]},
        id="nodes",
    ),
    pytest.param(
        "query { purchaseRequests(first: 5) { edges { node { id } } } }",
        lambda t: {},
        id="purchaseRequests",
    ),
]


def test_the_anonymous_matrix_covers_every_query():
    from schema import schema

    names = {case.id for case in ANONYMOUS_QUERIES} | {"me"}
    assert names == set(schema._schema.query_type.fields)


def test_anonymous_me_is_null(client, tenants):
    assert graphql(client, ME) == {"data": {"me": None}}


@pytest.mark.parametrize(("query", "variables"), ANONYMOUS_QUERIES)
def test_anonymous_queries_are_unauthenticated(client, tenants, query, variables):
    body = graphql(client, query, variables(tenants))

    (error,) = body["errors"]
    assert error["message"] == "Sign in to use the API."
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "field": None}
    # A nullable root (every single-object one) answers null; a non-null root (a list or
    # connection) nulls the whole response.
    assert body["data"] is None or list(body["data"].values()) == [None]


ANONYMOUS_MUTATIONS = [
    pytest.param(
        CREATE_WORKFLOW,
        "createWorkflow",
        lambda t: {
            "input": {
                "nameEn": "Anonymous",
                "pipelines": [{"nameEn": "Main", "stages": {"blank": 1}}],
            }
        },
        id="createWorkflow",
    ),
    *[
        pytest.param(*case.values[:3], id=case.id)
        for case in MUTATION_CASES
        if case.id
        in {
            "updateWorkflow",
            "deleteWorkflow",
            "cloneWorkflow",
            "addPipeline",
            "updatePipeline",
            "deletePipeline",
            "addStage",
            "updateStage",
            "deleteStage",
            "reorderStages",
            "attachWorkflow",
            "startWorkflow",
            "cancelWorkflow",
            "approveStage",
            "checkInStage",
            "verifyStage",
            "rejectStage",
            "delegateStage",
            "requestResubmission",
        }
    ],
    pytest.param(
        "mutation($input: CreateWorkflowActionInput!) { createWorkflowAction(input: $input) "
        "{ action { id } error { code message field } } }",
        "createWorkflowAction",
        lambda t: {
            "input": {
                "scope": {"workflowId": t.acme_workflow},
                "actionType": "AFTER_APPROVE",
                "functionPath": "backend.workflows.notifications.send_workflow_notification",
            }
        },
        id="createWorkflowAction",
    ),
    pytest.param(
        "mutation($input: UpdateWorkflowActionInput!) { updateWorkflowAction(input: $input) "
        "{ action { id } error { code message field } } }",
        "updateWorkflowAction",
        lambda t: {"input": {"id": "1", "order": 3}},
        id="updateWorkflowAction",
    ),
    pytest.param(
        "mutation($id: ID!) { deleteWorkflowAction(input: {id: $id}) { deletedId error { code message field } } }",
        "deleteWorkflowAction",
        lambda t: {"id": "1"},
        id="deleteWorkflowAction",
    ),
    pytest.param(
        "mutation($input: RegisterModelForWorkflowInput!) { registerModelForWorkflow(input: $input) "
        "{ configuration { model } error { code message field } } }",
        "registerModelForWorkflow",
        lambda t: {"input": {"model": "demo.ticket", "statusField": "status"}},
        id="registerModelForWorkflow",
    ),
    pytest.param(
        "mutation($input: ReassignStageInput!) { reassignStage(input: $input) "
        "{ attachment { id } error { code message field } } }",
        "reassignStage",
        lambda t: {
            "input": {
                "attachmentId": str(t.acme_running.pk),
                "toUserId": str(t.acme.user("cfo").pk),
                "reason": "Stuck",
            }
        },
        id="reassignStage",
    ),
    pytest.param(
        "mutation($input: ApproveStagesInput!) { approveStages(input: $input) "
        "{ results { index } error { code message field } } }",
        "approveStages",
        lambda t: {"input": {"items": [{"attachmentId": str(t.acme_running.pk)}]}},
        id="approveStages",
    ),
    pytest.param(
        "mutation($input: RejectStagesInput!) { rejectStages(input: $input) "
        "{ results { index } error { code message field } } }",
        "rejectStages",
        lambda t: {"input": {"items": [{"attachmentId": str(t.acme_running.pk), "reason": "No"}]}},
        id="rejectStages",
    ),
    pytest.param(
        "mutation($input: SetOutOfOfficeInput!) { setOutOfOffice(input: $input) "
        "{ outOfOffice { reason } error { code message field } } }",
        "setOutOfOffice",
        lambda t: {
            "input": {
                "substituteId": str(t.acme.user("cfo").pk),
                "startsAt": "2026-07-01T08:00:00Z",
                "endsAt": "2026-07-02T08:00:00Z",
            }
        },
        id="setOutOfOffice",
    ),
    pytest.param(
        "mutation { clearOutOfOffice(input: {}) { cleared error { code message field } } }",
        "clearOutOfOffice",
        lambda t: {},
        id="clearOutOfOffice",
    ),
    pytest.param(
        "mutation($input: CreatePurchaseRequestInput!) { createPurchaseRequest(input: $input) "
        "{ purchaseRequest { id } error { code message field } } }",
        "createPurchaseRequest",
        lambda t: {"input": {"title": "Anonymous", "amount": "10.00"}},
        id="createPurchaseRequest",
    ),
]


def test_the_anonymous_matrix_covers_every_mutation():
    from schema import schema

    names = {case.id for case in ANONYMOUS_MUTATIONS}
    assert names == set(schema._schema.mutation_type.fields)


@pytest.mark.parametrize(("mutation", "field", "variables"), ANONYMOUS_MUTATIONS)
def test_anonymous_mutations_are_unauthenticated_and_change_nothing(
    client, tenants, mutation, field, variables
):
    # given
    before = database_state()

    # when
    body = graphql(client, mutation, variables(tenants))

    # then
    assert "errors" not in body, body
    assert body["data"][field]["error"] == {
        "code": "UNAUTHENTICATED",
        "message": "Sign in to use the API.",
        "field": None,
    }
    assert database_state() == before


# ----------------------------------------------------------------------------- who may decide

ACTORS = ["anonymous", "another tenant", "non-approver", "approver"]
EXPECTED_ERROR = {
    "anonymous": {"code": "UNAUTHENTICATED", "message": "Sign in to use the API.", "field": None},
    "another tenant": {
        "code": "NOT_FOUND",
        "message": "Workflow attachment not found.",
        "field": "attachmentId",
    },
    "non-approver": {
        "code": "NOT_AN_APPROVER",
        "message": "You are not an approver of the current stage.",
        "field": None,
    },
}


@dataclass
class Decision:
    """A running Acme attachment, its current approver and what a successful decision leaves."""

    attachment: WorkflowAttachment
    approver: Any
    expected_state: tuple[str, str | None, str | None]
    expected_new_events: list[str]


def _purchase_decision(tenants: Tenants, state: tuple, new_events: list[str]) -> Decision:
    approver_name = approvers_of(tenants.acme_running)[0]
    approver = next(u for u in tenants.acme.users.values() if u.username == approver_name)
    return Decision(
        attachment=tenants.acme_running,
        approver=approver,
        expected_state=state,
        expected_new_events=new_events,
    )


def _check_in_decision(tenants: Tenants, *, checked_in: bool, state: tuple, new_events: list[str]):
    acme = tenants.acme
    workflow = two_stage_workflow(
        acme,
        user_approval(acme.user("budget_manager1"), behaviour="check_in_verify"),
        name="Check-in",
    )
    request, attachment = attached_request(acme, workflow, title="Check-in laptops")
    if checked_in:
        check_in_stage(obj=request, user=acme.user("budget_manager1"))
    return Decision(
        attachment=attachment,
        approver=acme.user("budget_manager1"),
        expected_state=state,
        expected_new_events=new_events,
    )


IN_REVIEW = (AttachmentStatus.IN_PROGRESS, "Finance Review", "Initial Review")
DECISIONS = [
    pytest.param(
        APPROVE_STAGE,
        "approveStage",
        lambda t: _purchase_decision(
            t,
            (AttachmentStatus.IN_PROGRESS, "Finance Review", "Budget Approval"),
            ["approved", "stage_moved"],
        ),
        lambda t, d: {"attachmentId": d.attachment.pk, "formData": {"budget_code": "BDG-1"}},
        id="approveStage",
    ),
    pytest.param(
        CHECK_IN_STAGE,
        "checkInStage",
        lambda t: _check_in_decision(
            t,
            checked_in=False,
            state=(AttachmentStatus.IN_PROGRESS, "Main", "Step"),
            new_events=["checked_in"],
        ),
        lambda t, d: {"attachmentId": d.attachment.pk},
        id="checkInStage",
    ),
    pytest.param(
        VERIFY_STAGE,
        "verifyStage",
        lambda t: _check_in_decision(
            t,
            checked_in=True,
            state=(AttachmentStatus.IN_PROGRESS, "Main", "After"),
            new_events=["approved", "stage_moved"],
        ),
        lambda t, d: {"attachmentId": d.attachment.pk},
        id="verifyStage",
    ),
    pytest.param(
        REJECT_STAGE,
        "rejectStage",
        lambda t: _purchase_decision(
            t, (AttachmentStatus.REJECTED, "Finance Review", "Initial Review"), ["rejected"]
        ),
        lambda t, d: {"attachmentId": d.attachment.pk, "reason": "Too expensive"},
        id="rejectStage",
    ),
    pytest.param(
        DELEGATE_STAGE,
        "delegateStage",
        lambda t: _purchase_decision(t, IN_REVIEW, ["delegated"]),
        lambda t, d: {"attachmentId": d.attachment.pk, "toUserId": t.acme.user("cfo").pk},
        id="delegateStage",
    ),
    pytest.param(
        REQUEST_RESUBMISSION,
        "requestResubmission",
        lambda t: _purchase_decision(t, IN_REVIEW, ["resubmission_requested"]),
        lambda t, d: {
            "attachmentId": d.attachment.pk,
            "stageId": t.acme_stages[0],
            "reason": "Add quotes",
        },
        id="requestResubmission",
    ),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("mutation", "field", "decision", "variables"), DECISIONS)
def test_only_the_approver_can_decide(client, tenants, actor, mutation, field, decision, variables):
    # given
    decision = decision(tenants)
    token = {
        "anonymous": None,
        "another tenant": tenants.globex_token,
        "non-approver": api_token_for(tenants.acme.user("employee")),
        "approver": api_token_for(decision.approver),
    }[actor]
    state_before = attachment_state(decision.attachment)
    events_before = event_types(decision.attachment)
    before = database_state()

    # when
    body = graphql(client, mutation, {"input": variables(tenants, decision)}, token=token)

    # then
    assert "errors" not in body, body
    payload = body["data"][field]
    if actor == "approver":
        assert payload["error"] is None
        assert payload["attachment"]["id"] == global_id(
            "WorkflowAttachment", decision.attachment.pk
        )
        assert attachment_state(decision.attachment) == decision.expected_state
        assert event_types(decision.attachment) == events_before + decision.expected_new_events
    else:
        assert payload == {"attachment": None, "error": EXPECTED_ERROR[actor]}
        assert attachment_state(decision.attachment) == state_before
        assert database_state() == before


CANCEL_EXPECTED_ERROR = {
    **EXPECTED_ERROR,
    "non-approver": {
        "code": "PERMISSION_DENIED",
        "message": "Only the user who started the workflow, the company or an administrator may cancel it.",
        "field": None,
    },
}


@pytest.mark.parametrize("actor", ["anonymous", "another tenant", "non-approver", "starter"])
def test_only_the_starter_or_the_company_can_cancel(client, tenants, actor):
    # given
    attachment = tenants.acme_running
    token = {
        "anonymous": None,
        "another tenant": tenants.globex_token,
        "non-approver": api_token_for(tenants.acme.user("employee")),
        "starter": api_token_for(tenants.acme.user("requester")),
    }[actor]
    before = database_state()

    # when
    body = graphql(
        client,
        CANCEL_WORKFLOW,
        {"input": {"attachmentId": attachment.pk, "reason": "No budget"}},
        token=token,
    )

    # then
    payload = body["data"]["cancelWorkflow"]
    if actor == "starter":
        assert payload == {
            "attachment": {
                "id": global_id("WorkflowAttachment", attachment.pk),
                "status": "CANCELLED",
            },
            "error": None,
        }
        assert attachment_state(attachment)[0] == AttachmentStatus.CANCELLED
        assert event_types(attachment)[-1] == "cancelled"
    else:
        assert payload == {"attachment": None, "error": CANCEL_EXPECTED_ERROR[actor]}
        assert database_state() == before


def test_stage_and_pipeline_ids_in_the_fixture_belong_to_their_tenants(tenants):
    # Guard against a fixture that would make the matrix pass vacuously.
    assert (
        Stage.objects.filter(
            pk__in=tenants.acme_stages, pipeline__workflow__company=tenants.acme.company
        ).count()
        == 3
    )
    assert (
        WorkflowAttachment.objects.get(pk=tenants.acme_waiting.pk).status
        == AttachmentStatus.NOT_STARTED
    )
    assert tenants.acme_running.company_id == tenants.acme.company.pk
