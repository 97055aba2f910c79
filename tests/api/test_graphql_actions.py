"""GraphQL: workflowActions, create/update/deleteWorkflowAction and cleanupStatistics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.workflows.constants import ActionType
from backend.workflows.models import WorkflowAction, WorkflowAttachment
from backend.workflows.selectors import ordered_stages
from backend.workflows.services import create_workflow_action
from tests.support.action_handlers import ALLOWED
from tests.support.database_state import database_state
from tests.support.helpers import api_token_for, global_id, graphql
from tests.support.purchase_steps import start_purchase_request

pytestmark = pytest.mark.django_db

RECORD = f"{ALLOWED}.record"
NOT_ALLOWED = (
    "is not a registered workflow action and is not in a module listed in "
    "WORKFLOW_ACTION_ALLOWED_MODULES."
)
ACTION_FIELDS = (
    "id actionType functionPath parameters order isActive failurePolicy scopeLevel "
    "workflowId pipelineId stageId"
)
CREATE = f"""
mutation($input: CreateWorkflowActionInput!) {{ createWorkflowAction(input: $input) {{
  action {{ {ACTION_FIELDS} }} error {{ code message field }} }} }}
"""
UPDATE = f"""
mutation($input: UpdateWorkflowActionInput!) {{ updateWorkflowAction(input: $input) {{
  action {{ {ACTION_FIELDS} }} error {{ code message field }} }} }}
"""
DELETE = """
mutation($id: ID!) { deleteWorkflowAction(input: {id: $id}) { deletedId error { code message field } } }
"""
ACTIONS = f"""
query($workflowId: ID, $pipelineId: ID, $stageId: ID) {{
  workflowActions(workflowId: $workflowId, pipelineId: $pipelineId, stageId: $stageId) {{ {ACTION_FIELDS} }} }}
"""
STATISTICS = """
query { cleanupStatistics { totalAttachments inProgressAttachments completedAttachments
  rejectedAttachments cancelledAttachments notStartedAttachments finishedAttachments
  byAge { days count } recommendedDays report } }
"""


@pytest.fixture(autouse=True)
def _allow_test_handlers(settings):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED]


def manager(scenario):
    """The company account manages its workflows."""
    return scenario.company


def stages(scenario):
    return ordered_stages(scenario.workflow.pk)


def test_create_workflow_action_at_each_level(client, acme):
    workflow = acme.workflow
    pipeline = stages(acme)[0].pipeline
    stage = stages(acme)[1]

    results = [
        graphql(
            client,
            CREATE,
            {
                "input": {
                    "scope": {scope: str(target.pk)},
                    "actionType": "AFTER_APPROVE",
                    "functionPath": RECORD,
                    "parameters": {"recipients": ["creator"]},
                    "failurePolicy": "STOP",
                }
            },
            user=manager(acme),
        )["data"]["createWorkflowAction"]
        for scope, target in (
            ("workflowId", workflow),
            ("pipelineId", pipeline),
            ("stageId", stage),
        )
    ]

    assert [result["error"] for result in results] == [None, None, None]
    actions = [result["action"] for result in results]
    assert [(a["scopeLevel"], a["pipelineId"], a["stageId"]) for a in actions] == [
        ("WORKFLOW", None, None),
        ("PIPELINE", global_id("Pipeline", pipeline.pk), None),
        ("STAGE", None, global_id("Stage", stage.pk)),
    ]
    assert {a["workflowId"] for a in actions} == {global_id("Workflow", workflow.pk)}
    assert actions[0] == {
        "id": actions[0]["id"],
        "actionType": "AFTER_APPROVE",
        "functionPath": RECORD,
        "parameters": {"recipients": ["creator"]},
        "order": 1,
        "isActive": True,
        "failurePolicy": "STOP",
        "scopeLevel": "WORKFLOW",
        "workflowId": global_id("Workflow", workflow.pk),
        "pipelineId": None,
        "stageId": None,
    }
    assert WorkflowAction.objects.count() == 3


@pytest.mark.parametrize("path", ["os.system", "subprocess.run", "builtins.eval"])
def test_create_workflow_action_refuses_a_dangerous_path(client, acme, path):
    before = database_state()

    body = graphql(
        client,
        CREATE,
        {
            "input": {
                "scope": {"workflowId": str(acme.workflow.pk)},
                "actionType": "AFTER_REJECT",
                "functionPath": path,
            }
        },
        user=manager(acme),
    )

    assert body["data"]["createWorkflowAction"] == {
        "action": None,
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"{path} {NOT_ALLOWED}",
            "field": "functionPath",
        },
    }
    assert database_state() == before


def test_create_workflow_action_errors(client, acme, globex):
    def create(user, **scope):
        return graphql(
            client,
            CREATE,
            {"input": {"scope": scope, "actionType": "AFTER_APPROVE", "functionPath": RECORD}},
            user=user,
        )["data"]["createWorkflowAction"]["error"]

    _, attachment = start_purchase_request(acme)
    workflow_id, stage_id = str(acme.workflow.pk), str(stages(acme)[0].pk)

    assert create(manager(globex), workflowId=workflow_id) == {
        "code": "NOT_FOUND",
        "message": "Workflow not found.",
        "field": "scope.workflowId",
    }
    assert create(manager(globex), stageId=stage_id)["code"] == "NOT_FOUND"
    assert create(acme.user("requester"), workflowId=workflow_id) == {
        "code": "PERMISSION_DENIED",
        "message": "You may not see or edit workflow actions.",
        "field": None,
    }
    assert create(manager(acme), workflowId=str(attachment.workflow_id))["code"] == "INVALID_STATE"
    assert WorkflowAction.objects.count() == 0


def test_create_workflow_action_anonymously(client, acme):
    body = graphql(
        client,
        CREATE,
        {
            "input": {
                "scope": {"workflowId": str(acme.workflow.pk)},
                "actionType": "AFTER_APPROVE",
                "functionPath": RECORD,
            }
        },
    )

    assert body["data"]["createWorkflowAction"]["error"]["code"] == "UNAUTHENTICATED"
    assert WorkflowAction.objects.count() == 0


def test_update_and_delete_workflow_action(client, acme, globex):
    action = create_workflow_action(
        workflow=acme.workflow, action_type=ActionType.AFTER_APPROVE, function_path=RECORD
    )

    body = graphql(
        client,
        UPDATE,
        {"input": {"id": str(action.pk), "order": 7, "isActive": False, "failurePolicy": "STOP"}},
        user=manager(acme),
    )["data"]["updateWorkflowAction"]
    assert body["error"] is None
    assert (
        body["action"]["order"],
        body["action"]["isActive"],
        body["action"]["failurePolicy"],
    ) == (
        7,
        False,
        "STOP",
    )

    bad = graphql(
        client,
        UPDATE,
        {"input": {"id": str(action.pk), "functionPath": "os.system"}},
        user=manager(acme),
    )["data"]["updateWorkflowAction"]
    assert bad["error"]["field"] == "functionPath"
    action.refresh_from_db()
    assert (action.function_path, action.order) == (RECORD, 7)

    other = graphql(client, DELETE, {"id": str(action.pk)}, user=manager(globex))["data"]
    assert other["deleteWorkflowAction"] == {
        "deletedId": None,
        "error": {"code": "NOT_FOUND", "message": "Workflow action not found.", "field": "id"},
    }
    assert WorkflowAction.objects.filter(pk=action.pk).exists()

    deleted = graphql(client, DELETE, {"id": str(action.pk)}, user=manager(acme))["data"]
    assert deleted["deleteWorkflowAction"] == {
        "deletedId": global_id("WorkflowAction", action.pk),
        "error": None,
    }
    assert not WorkflowAction.objects.filter(pk=action.pk).exists()


def test_workflow_actions_query_by_scope(client, acme, globex):
    first, second = stages(acme)[0], stages(acme)[1]
    executive = stages(acme)[3]
    made = {
        "workflow": create_workflow_action(
            workflow=acme.workflow,
            action_type=ActionType.ON_WORKFLOW_COMPLETE,
            function_path=RECORD,
        ),
        "finance": create_workflow_action(
            pipeline=first.pipeline, action_type=ActionType.AFTER_MOVE_STAGE, function_path=RECORD
        ),
        "second": create_workflow_action(
            stage=second, action_type=ActionType.AFTER_APPROVE, function_path=RECORD
        ),
        "executive": create_workflow_action(
            stage=executive, action_type=ActionType.AFTER_APPROVE, function_path=RECORD
        ),
    }
    ids = {name: global_id("WorkflowAction", action.pk) for name, action in made.items()}

    def listed(user, **arguments):
        body = graphql(client, ACTIONS, arguments, user=user)
        assert "errors" not in body, body
        return [action["id"] for action in body["data"]["workflowActions"]]

    assert listed(manager(acme), workflowId=str(acme.workflow.pk)) == [
        ids["workflow"],
        ids["finance"],
        ids["second"],
        ids["executive"],
    ]
    assert listed(manager(acme), pipelineId=str(first.pipeline_id)) == [
        ids["finance"],
        ids["second"],
    ]
    assert listed(manager(acme), stageId=str(executive.pk)) == [ids["executive"]]
    assert listed(manager(globex), workflowId=str(acme.workflow.pk)) == []

    denied = graphql(
        client, ACTIONS, {"workflowId": str(acme.workflow.pk)}, user=acme.user("requester")
    )
    assert denied["data"] is None
    assert denied["errors"][0]["extensions"] == {"code": "PERMISSION_DENIED", "field": None}
    missing = graphql(client, ACTIONS, {}, user=manager(acme))
    assert missing["errors"][0]["message"] == "Give workflowId, pipelineId or stageId."


def test_workflow_actions_query_costs_the_same_for_one_or_many(client, acme):
    token = api_token_for(manager(acme))

    def count():
        with CaptureQueriesContext(connection) as captured:
            body = graphql(client, ACTIONS, {"workflowId": str(acme.workflow.pk)}, token=token)
        assert "errors" not in body
        return len(captured.captured_queries), len(body["data"]["workflowActions"])

    count()  # the token's first use records it; later requests do not write
    create_workflow_action(
        stage=stages(acme)[0], action_type=ActionType.AFTER_APPROVE, function_path=RECORD
    )
    one = count()
    for stage in stages(acme):
        create_workflow_action(
            pipeline=stage.pipeline, action_type=ActionType.AFTER_REJECT, function_path=RECORD
        )
        create_workflow_action(
            stage=stage, action_type=ActionType.AFTER_DELEGATE, function_path=RECORD
        )
    many = count()

    assert (one[1], many[1]) == (1, 9)
    assert many[0] == one[0]


def test_cleanup_statistics_for_staff_only(client, acme):
    start_purchase_request(acme)
    _, old = start_purchase_request(acme)
    WorkflowAttachment.objects.filter(pk=old.pk).update(
        status="completed", completed_at=timezone.now() - timedelta(days=45)
    )
    staff = get_user_model().objects.create(username="operator", is_staff=True)

    body = graphql(client, STATISTICS, user=staff)

    assert "errors" not in body, body
    statistics = body["data"]["cleanupStatistics"]
    assert {key: value for key, value in statistics.items() if key != "report"} == {
        "totalAttachments": 2,
        "inProgressAttachments": 1,
        "completedAttachments": 1,
        "rejectedAttachments": 0,
        "cancelledAttachments": 0,
        "notStartedAttachments": 0,
        "finishedAttachments": 1,
        "byAge": [{"days": 30, "count": 1}, {"days": 90, "count": 0}, {"days": 365, "count": 0}],
        "recommendedDays": 30,
    }
    assert statistics["report"].startswith("=== Workflow Cleanup Statistics ===\n")
    assert "  Older than 30 days: 1 (100.0%)" in statistics["report"]

    for user, code in ((acme.company, "PERMISSION_DENIED"), (None, "UNAUTHENTICATED")):
        body = graphql(client, STATISTICS, user=user)
        assert body["data"] == {"cleanupStatistics": None}
        assert body["errors"][0]["extensions"]["code"] == code
