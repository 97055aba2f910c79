"""workflowPipelineStructure, workflowApprovalSummary, workflowStatistics: typed, scoped to the viewer."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from backend.workflows.models import Stage
from backend.workflows.services import attach_workflow_to_object
from tests.support.helpers import global_id, graphql, make_purchase_request

pytestmark = pytest.mark.django_db

WORKFLOW_PIPELINE_STRUCTURE = """
query($id: ID!) { workflowPipelineStructure(id: $id) {
  workflowId workflowName totalPipelines totalStages
  pipelines { id nameEn nameAr order departmentName stagesCount
    stages { id nameEn order isActive approvalsCount color hasForms
      approvalTypes { role user } } } } }
"""
WORKFLOW_APPROVAL_SUMMARY = """
query($id: ID!) { workflowApprovalSummary(id: $id) {
  totalApprovals stagesWithForms
  byType { role user }
  byStrategy { anyone consensus roundRobin quorum majority percentage }
  pipelineBreakdown { pipelineName pipelineOrder totalApprovals
    stages { stageName stageOrder approvalsCount hasForms } } } }
"""
WORKFLOW_STATISTICS = """
query($companyId: ID) { workflowStatistics(companyId: $companyId) {
  overview { totalWorkflows activeWorkflows inactiveWorkflows totalPipelines totalStages
    totalApprovals avgPipelinesPerWorkflow avgStagesPerWorkflow }
  byCompany { company workflows pipelines stages approvals } } }
"""

ACME_STATISTICS = {
    "overview": {
        "totalWorkflows": 1,
        "activeWorkflows": 1,
        "inactiveWorkflows": 0,
        "totalPipelines": 2,
        "totalStages": 4,
        "totalApprovals": 4,
        "avgPipelinesPerWorkflow": 2.0,
        "avgStagesPerWorkflow": 4.0,
    },
    "byCompany": [{"company": "acme", "workflows": 1, "pipelines": 2, "stages": 4, "approvals": 4}],
}
GLOBEX_STATISTICS = {
    **ACME_STATISTICS,
    "byCompany": [
        {"company": "globex", "workflows": 1, "pipelines": 2, "stages": 4, "approvals": 4}
    ],
}
NO_TYPES = {"role": 0, "user": 0}


def test_workflow_pipeline_structure(client, acme):
    # given
    initial, budget, final, board = Stage.objects.filter(pipeline__workflow=acme.workflow).order_by(
        "pipeline__order", "order"
    )
    finance, executive = acme.workflow.pipelines.order_by("order")

    def stage(obj: Stage, color: str, has_forms: bool, **types: int) -> dict:
        return {
            "id": global_id("Stage", obj.pk),
            "nameEn": obj.name_en,
            "order": obj.order,
            "isActive": True,
            "approvalsCount": 1,
            "color": color,
            "hasForms": has_forms,
            "approvalTypes": {**NO_TYPES, **types},
        }

    # when
    body = graphql(
        client, WORKFLOW_PIPELINE_STRUCTURE, {"id": acme.workflow.pk}, user=acme.user("employee")
    )

    # then
    assert body == {
        "data": {
            "workflowPipelineStructure": {
                "workflowId": global_id("Workflow", acme.workflow.pk),
                "workflowName": "Purchase Request Approval",
                "totalPipelines": 2,
                "totalStages": 4,
                "pipelines": [
                    {
                        "id": global_id("Pipeline", finance.pk),
                        "nameEn": "Finance Review",
                        "nameAr": "مراجعة مالية",
                        "order": 1,
                        "departmentName": "Finance",
                        "stagesCount": 3,
                        "stages": [
                            stage(initial, "#3498db", True, role=1),
                            stage(budget, "#f39c12", True, role=1),
                            stage(final, "#27ae60", True, user=1),
                        ],
                    },
                    {
                        "id": global_id("Pipeline", executive.pk),
                        "nameEn": "Executive Approval",
                        "nameAr": "موافقة تنفيذية",
                        "order": 2,
                        "departmentName": "Management",
                        "stagesCount": 1,
                        "stages": [stage(board, "#8e44ad", False, role=1)],
                    },
                ],
            }
        }
    }


def test_workflow_approval_summary(client, acme):
    body = graphql(
        client, WORKFLOW_APPROVAL_SUMMARY, {"id": acme.workflow.pk}, user=acme.user("employee")
    )

    assert body == {
        "data": {
            "workflowApprovalSummary": {
                "totalApprovals": 4,
                "stagesWithForms": 3,
                "byType": {"role": 3, "user": 1},
                "byStrategy": {
                    "anyone": 1,
                    "consensus": 1,
                    "roundRobin": 1,
                    "quorum": 0,
                    "majority": 0,
                    "percentage": 0,
                },
                "pipelineBreakdown": [
                    {
                        "pipelineName": "Finance Review",
                        "pipelineOrder": 1,
                        "totalApprovals": 3,
                        "stages": [
                            {
                                "stageName": "Initial Review",
                                "stageOrder": 1,
                                "approvalsCount": 1,
                                "hasForms": True,
                            },
                            {
                                "stageName": "Budget Approval",
                                "stageOrder": 2,
                                "approvalsCount": 1,
                                "hasForms": True,
                            },
                            {
                                "stageName": "Final Finance Sign-off",
                                "stageOrder": 3,
                                "approvalsCount": 1,
                                "hasForms": True,
                            },
                        ],
                    },
                    {
                        "pipelineName": "Executive Approval",
                        "pipelineOrder": 2,
                        "totalApprovals": 1,
                        "stages": [
                            {
                                "stageName": "Executive Approval",
                                "stageOrder": 1,
                                "approvalsCount": 1,
                                "hasForms": False,
                            }
                        ],
                    },
                ],
            }
        }
    }


def test_workflow_statistics_of_the_viewers_company_without_run_copies(client, acme, globex):
    # given: three running copies of Acme's workflow
    for number in range(3):
        attach_workflow_to_object(
            obj=make_purchase_request(acme, title=f"Request {number}"),
            workflow=acme.workflow,
            user=acme.user("requester"),
        )

    # when
    body = graphql(client, WORKFLOW_STATISTICS, user=acme.user("employee"))

    # then
    assert body == {"data": {"workflowStatistics": ACME_STATISTICS}}


@pytest.mark.parametrize(
    ("viewer", "company", "expected"),
    [
        pytest.param(
            "acme-employee", "globex", ACME_STATISTICS, id="member-naming-another-company-gets-own"
        ),
        pytest.param(
            "acme", "globex", ACME_STATISTICS, id="company-account-naming-another-company-gets-own"
        ),
        pytest.param(
            "superuser", "globex", GLOBEX_STATISTICS, id="superuser-names-another-company"
        ),
        pytest.param("superuser", "acme", ACME_STATISTICS, id="superuser-names-acme"),
    ],
)
def test_only_a_superuser_may_name_another_company(client, acme, globex, viewer, company, expected):
    # given
    users = {
        "acme-employee": acme.user("employee"),
        "acme": acme.company,
        "superuser": get_user_model().objects.create_superuser("root", "root@example.com", "x"),
    }
    companies = {"acme": acme.company.pk, "globex": globex.company.pk}

    # when
    body = graphql(
        client, WORKFLOW_STATISTICS, {"companyId": companies[company]}, user=users[viewer]
    )

    # then
    assert body == {"data": {"workflowStatistics": expected}}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param(WORKFLOW_PIPELINE_STRUCTURE, "workflowPipelineStructure", id="structure"),
        pytest.param(WORKFLOW_APPROVAL_SUMMARY, "workflowApprovalSummary", id="summary"),
    ],
)
@pytest.mark.parametrize(
    "workflow", ["acme-template", "acme-running-copy", "missing", "not-a-number"]
)
def test_a_workflow_outside_the_viewers_company_is_not_found(
    client, acme, globex, query, field, workflow
):
    # given
    attachment = attach_workflow_to_object(
        obj=make_purchase_request(acme), workflow=acme.workflow, user=acme.user("requester")
    )
    ids = {
        "acme-template": acme.workflow.pk,
        "acme-running-copy": attachment.workflow_id,
        "missing": attachment.workflow_id + 1000,
        "not-a-number": "abc",
    }

    # when
    body = graphql(client, query, {"id": ids[workflow]}, user=globex.company)

    # then
    assert list(body["data"].values()) == [None]  # the root field is null
    (error,) = body["errors"]
    assert error["message"] == "Workflow not found."
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    assert error["path"] == [field]


def test_the_running_copy_of_an_attachment_is_readable_by_its_company(client, acme):
    attachment = attach_workflow_to_object(
        obj=make_purchase_request(acme), workflow=acme.workflow, user=acme.user("requester")
    )

    body = graphql(
        client,
        WORKFLOW_PIPELINE_STRUCTURE,
        {"id": attachment.workflow_id},
        user=acme.user("employee"),
    )

    structure = body["data"]["workflowPipelineStructure"]
    assert (structure["workflowName"], structure["totalStages"]) == (
        "Purchase Request Approval (Copy)",
        4,
    )


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(WORKFLOW_PIPELINE_STRUCTURE, {"id": 1}, id="structure"),
        pytest.param(WORKFLOW_APPROVAL_SUMMARY, {"id": 1}, id="summary"),
        pytest.param(WORKFLOW_STATISTICS, {}, id="statistics"),
    ],
)
def test_anonymous_callers_are_unauthenticated(client, acme, query, variables):
    body = graphql(client, query, variables)

    assert list(body["data"].values()) == [None]  # the root field is null
    (error,) = body["errors"]
    assert error["message"] == "Sign in to use the API."
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "field": None}


def test_every_new_type_field_and_argument_is_described():
    from schema import schema

    graphql_schema = schema._schema
    query_type = graphql_schema.query_type
    names = ("workflowPipelineStructure", "workflowApprovalSummary", "workflowStatistics")
    seen: set[str] = set()

    def walk(type_: object) -> None:
        while hasattr(type_, "of_type"):
            type_ = type_.of_type
        if not hasattr(type_, "fields") or type_.name in seen:
            return
        seen.add(type_.name)
        assert type_.description, type_.name
        for name, field in type_.fields.items():
            assert field.description, f"{type_.name}.{name}"
            walk(field.type)

    for name in names:
        field = query_type.fields[name]
        assert field.description, name
        for argument_name, argument in field.args.items():
            assert argument.description, f"{name}({argument_name})"
        walk(field.type)
    assert seen == {
        "WorkflowPipelineStructure",
        "PipelineStructure",
        "StageStructure",
        "ApprovalTypeCounts",
        "WorkflowApprovalSummary",
        "StrategyCounts",
        "PipelineApprovalBreakdown",
        "StageApprovalBreakdown",
        "WorkflowStatistics",
        "WorkflowStatisticsOverview",
        "CompanyWorkflowStatistics",
    }
