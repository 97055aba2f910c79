import pytest

from backend.workflows.services import attach_workflow_to_object
from tests.support.helpers import graphql, make_purchase_request

pytestmark = pytest.mark.django_db

WORKFLOWS = """
query { workflows(first: 10) { totalCount edges { node { id nameEn pipelinesCount totalStagesCount
  summary { totalPipelines totalStages totalApprovals pipelineBreakdown { pipelineName stagesCount approvalsCount } }
  pipelines { nameEn department { id name } stagesCount stages { nameEn color approvalsCount
    approvals { approvalType approvalTypeDisplay user { username } role { name } roleSelectionStrategy strategyDisplay behaviour requiredForm { name } } } } } } } }
"""

APPROVE = """
mutation($id: ID!, $form: JSON) { approveStage(input: {attachmentId: $id, formData: $form}) {
  attachment { id status currentStage { nameEn } nextStage { nameEn } progress { percentage completedStages totalStages }
    currentApprovers { user { username } } availableActions target { model objectId display }
    events { totalCount nodes { type actor { username } } } }
  error { code message field } } }
"""


def test_workflows_and_approve(client, acme):
    body = graphql(client, WORKFLOWS, user=acme.user("employee"))
    assert "errors" not in body, body
    node = body["data"]["workflows"]["edges"][0]["node"]
    assert body["data"]["workflows"]["totalCount"] == 1
    assert node["summary"]["totalStages"] == 4
    assert node["pipelines"][0]["department"]["name"] == "Finance"

    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )
    body = graphql(client, APPROVE, {"id": attachment.pk, "form": {}}, user=acme.user("employee"))
    assert body["data"]["approveStage"]["error"]["code"] == "NOT_AN_APPROVER", body
    from tests.support.helpers import approvers_of

    reviewer = [u for u in acme.users.values() if u.username == approvers_of(attachment)[0]][0]
    body = graphql(
        client, APPROVE, {"id": attachment.pk, "form": {"budget_code": "X"}}, user=reviewer
    )
    assert body["data"]["approveStage"]["error"] is None, body
    result = body["data"]["approveStage"]["attachment"]
    assert result["currentStage"]["nameEn"] == "Budget Approval"
    assert result["progress"] == {"percentage": 25.0, "completedStages": 1, "totalStages": 4}
    assert result["events"]["totalCount"] == 4  # ATTACHED, STARTED, APPROVED, STAGE_MOVED
