"""The seed's compatibility features through GraphQL (issue #14).

``availableWorkflows(model:, objectId:)`` answers as ``get_workflows_for_model`` for the viewer's
company; workflows carry their ``status``; create and update inputs take inline actions at
every level, checked by the same allow-list, in one transaction with the structure.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.workflows.models import Stage, Workflow, WorkflowAction
from backend.workflows.services import clone_workflow, create_workflow
from tests.support import seed_handlers
from tests.support.action_handlers import ALLOWED
from tests.support.database_state import database_state
from tests.support.helpers import (
    api_token_for,
    database_id_of,
    global_id,
    graphql,
    make_purchase_request,
)
from tests.support.workflow_builders import user_approval

pytestmark = pytest.mark.django_db

RECORD = f"{ALLOWED}.record"
SEED_RECORD = f"{seed_handlers.ALLOWED}.record_seed"

AVAILABLE = """
query($model: String!, $objectId: ID) {
  availableWorkflows(model: $model, objectId: $objectId) {
    nameEn slug status isActive pipelinesCount pipelines { nameEn stages { nameEn } } } }
"""

CREATE = """
mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) {
  workflow { id nameEn status isActive pipelines { nameEn stages { nameEn color } } }
  error { code message field } } }
"""

UPDATE = """
mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) {
  workflow { id status isActive } error { code message field } } }
"""

UPDATE_STAGE = """
mutation($input: UpdateStageInput!) { updateStage(input: $input) {
  stage { nameEn } error { code message field } } }
"""

ACTIONS = """
query($workflowId: ID) { workflowActions(workflowId: $workflowId) {
  actionType functionPath scopeLevel handlerConvention order parameters } }
"""


@pytest.fixture(autouse=True)
def _allow_test_handlers(settings):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = [ALLOWED, seed_handlers.ALLOWED]


@pytest.fixture
def engine(settings):
    def configure(**keys):
        settings.DJANGO_WORKFLOW_ENGINE = {**settings.DJANGO_WORKFLOW_ENGINE, **keys}

    return configure


def small_template(scenario, name, *, slug="", status=None, stages=1):
    return create_workflow(
        company=scenario.company,
        name_en=name,
        slug=slug,
        status=status,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [
                    {"name_en": f"Step {n}", "approvals": [user_approval(scenario.user("cfo"))]}
                    for n in range(stages)
                ],
            }
        ],
    )


# --------------------------------------------------------------------------- availableWorkflows


def test_available_workflows_are_the_mapped_active_templates_of_the_viewer_company(
    client, acme, globex, engine
):
    # given
    small_template(acme, "Emergency Approval", slug="emergency_approval")
    small_template(acme, "Unmapped", slug="other")
    small_template(acme, "Drafted", slug="emergency_approval", status="draft")
    engine(
        MODEL_WORKFLOW_MAPPINGS={
            "demo.PurchaseRequest": ["purchase_approval", "emergency_approval"]
        }
    )
    request = make_purchase_request(acme)

    # when
    body = graphql(
        client,
        AVAILABLE,
        {"model": "demo.purchaserequest", "objectId": str(request.pk)},
        user=acme.user("requester"),
    )
    other = graphql(client, AVAILABLE, {"model": "demo.PurchaseRequest"}, user=globex.user("cfo"))

    # then
    assert "errors" not in body, body
    assert [
        (w["nameEn"], w["slug"], w["status"], w["isActive"], w["pipelinesCount"])
        for w in body["data"]["availableWorkflows"]
    ] == [
        ("Emergency Approval", "emergency_approval", "ACTIVE", True, 1),
        ("Purchase Request Approval", "purchase_approval", "ACTIVE", True, 2),
    ]
    assert [w["nameEn"] for w in other["data"]["availableWorkflows"]] == [
        "Purchase Request Approval"
    ]


@pytest.mark.parametrize(
    ("variables", "message", "code", "field"),
    [
        ({"model": "demo.nothing"}, "Unknown model 'demo.nothing'.", "NOT_FOUND", "model"),
        (
            {"model": "demo.purchaserequest", "objectId": "OTHER"},
            "Object not found.",
            "NOT_FOUND",
            "objectId",
        ),
    ],
)
def test_available_workflows_refuses_unknown_models_and_other_companies_objects(
    client, acme, globex, variables, message, code, field
):
    if variables.get("objectId") == "OTHER":
        variables = {**variables, "objectId": str(make_purchase_request(globex).pk)}

    body = graphql(client, AVAILABLE, variables, user=acme.user("requester"))

    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        (message, {"code": code, "field": field})
    ]


def test_available_workflows_costs_the_same_queries_for_1_and_30_templates(client, acme):
    token = api_token_for(acme.user("requester"))

    def count():
        with CaptureQueriesContext(connection) as captured:
            body = graphql(client, AVAILABLE, {"model": "demo.purchaserequest"}, token=token)
        assert "errors" not in body, body
        return (
            len(captured.captured_queries),
            len(body["data"]["availableWorkflows"]),
            [q["sql"] for q in captured.captured_queries],
        )

    count()  # the token's first use records it
    few = count()
    distinct = [small_template(acme, f"Template {n}", stages=3) for n in range(4)]
    for n in range(25):
        clone_workflow(workflow=distinct[n % 4], name_en=f"Copy {n}")
    many = count()

    # the token with its user and company, the content type, workflows, pipelines, stages
    assert (few[1], many[1]) == (1, 30)
    assert few[0] == many[0] == 5, "\n".join(many[2])


# --------------------------------------------------------------------------- inline actions


def create_input(scenario, *, stage_path=RECORD, **extra):
    return {
        "nameEn": "Purchase Request",
        "nameAr": "طلب شراء",
        "status": "DRAFT",
        "actions": [
            {
                "actionType": "AFTER_APPROVE",
                "functionPath": RECORD,
                "parameters": {"template": "custom_approved", "recipients": ["creator"]},
                "order": 1,
                "isActive": True,
            },
            {"actionType": "AFTER_REJECT", "functionPath": SEED_RECORD},
        ],
        "pipelines": [
            {
                "nameEn": "Finance Review",
                "actions": [
                    {
                        "actionType": "AFTER_MOVE_STAGE",
                        "functionPath": RECORD,
                        "parameters": {"team_email": "finance@example.com"},
                    }
                ],
                "stages": {
                    "list": [
                        {
                            "nameEn": "Budget Approval",
                            "color": "#f39c12",
                            "approvals": [
                                {
                                    "approvalType": "USER",
                                    "userId": str(scenario.user("cfo").pk),
                                }
                            ],
                            "actions": [
                                {
                                    "actionType": "AFTER_APPROVE",
                                    "functionPath": stage_path,
                                    "parameters": {"api_endpoint": "/api/budget/update"},
                                    "failurePolicy": "STOP",
                                }
                            ],
                        }
                    ]
                },
            }
        ],
        **extra,
    }


def test_create_workflow_takes_actions_at_every_level(client, acme):
    # when
    body = graphql(client, CREATE, {"input": create_input(acme)}, user=acme.company)

    # then
    payload = body["data"]["createWorkflow"]
    assert payload["error"] is None, payload
    assert {k: v for k, v in payload["workflow"].items() if k != "id"} == {
        "nameEn": "Purchase Request",
        "status": "DRAFT",
        "isActive": False,
        "pipelines": [
            {
                "nameEn": "Finance Review",
                "stages": [{"nameEn": "Budget Approval", "color": "#f39c12"}],
            }
        ],
    }
    actions = graphql(
        client, ACTIONS, {"workflowId": payload["workflow"]["id"]}, user=acme.company
    )["data"]["workflowActions"]
    assert sorted(
        (a["scopeLevel"], a["actionType"], a["functionPath"], a["handlerConvention"], a["order"])
        for a in actions
    ) == [
        ("PIPELINE", "AFTER_MOVE_STAGE", RECORD, "CONTEXT", 1),
        ("STAGE", "AFTER_APPROVE", RECORD, "CONTEXT", 1),
        ("WORKFLOW", "AFTER_APPROVE", RECORD, "CONTEXT", 1),
        ("WORKFLOW", "AFTER_REJECT", SEED_RECORD, "ATTACHMENT", 1),
    ]
    stage_action = WorkflowAction.objects.get(
        stage__pipeline__workflow_id=database_id_of(payload["workflow"]["id"])
    )
    assert (stage_action.parameters, stage_action.failure_policy) == (
        {"api_endpoint": "/api/budget/update"},
        "stop",
    )


def test_create_workflow_with_a_refused_action_path_changes_nothing(client, acme):
    before = database_state()

    body = graphql(
        client, CREATE, {"input": create_input(acme, stage_path="os.system")}, user=acme.company
    )

    assert body["data"]["createWorkflow"] == {
        "workflow": None,
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "os.system is not a registered workflow action and is not in a module "
            "listed in WORKFLOW_ACTION_ALLOWED_MODULES.",
            "field": "pipelines[0].stages[0].actions[0].functionPath",
        },
    }
    assert database_state() == before


def test_update_inputs_set_the_status_and_replace_a_level_actions(client, acme):
    workflow = acme.workflow
    stage = Stage.objects.filter(pipeline__workflow=workflow).order_by("pipeline__order", "order")[
        0
    ]

    archived = graphql(
        client,
        UPDATE,
        {
            "input": {
                "id": str(workflow.pk),
                "status": "ARCHIVED",
                "actions": [{"actionType": "ON_WORKFLOW_COMPLETE", "functionPath": SEED_RECORD}],
            }
        },
        user=acme.company,
    )
    stage_body = graphql(
        client,
        UPDATE_STAGE,
        {
            "input": {
                "id": str(stage.pk),
                "actions": [{"actionType": "AFTER_APPROVE", "functionPath": RECORD}],
            }
        },
        user=acme.company,
    )

    assert archived["data"]["updateWorkflow"] == {
        "workflow": {
            "id": global_id("Workflow", workflow.pk),
            "status": "ARCHIVED",
            "isActive": False,
        },
        "error": None,
    }
    assert stage_body["data"]["updateStage"]["error"] is None
    assert list(
        WorkflowAction.objects.filter(workflow=workflow).values_list(
            "action_type", "handler_convention"
        )
    ) == [("on_workflow_complete", "attachment")]
    assert list(stage.actions.values_list("action_type", "function_path")) == [
        ("after_approve", RECORD)
    ]
    # an archived template stays readable
    read = graphql(
        client,
        "query($id: ID!) { workflow(id: $id) { status nameEn } }",
        {"id": str(workflow.pk)},
        user=acme.user("requester"),
    )
    assert read["data"]["workflow"] == {"status": "ARCHIVED", "nameEn": "Purchase Request Approval"}
    assert Workflow.objects.get(pk=workflow.pk).status == "archived"


def test_attach_workflow_refuses_a_draft_through_graphql(client, acme):
    draft = small_template(acme, "Drafted", status="draft")
    request = make_purchase_request(acme)
    before = database_state()

    body = graphql(
        client,
        """mutation($input: AttachWorkflowInput!) { attachWorkflow(input: $input) {
             attachment { id } error { code message field } } }""",
        {
            "input": {
                "model": "demo.purchaserequest",
                "objectId": str(request.pk),
                "workflowId": str(draft.pk),
            }
        },
        user=acme.user("requester"),
    )

    assert body["data"]["attachWorkflow"] == {
        "attachment": None,
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "The workflow is a draft; activate it before attaching it.",
            "field": "workflowId",
        },
    }
    assert database_state() == before


# --------------------------------------------------------------------------- model configuration

REGISTER = """
mutation($input: RegisterModelForWorkflowInput!) { registerModelForWorkflow(input: $input) {
  configuration { model statusField stageField completionStatusValue rejectionStatusValue
    autoStartWorkflow isEnabled }
  error { code message field } } }
"""


def test_register_model_for_workflow_refuses_an_unknown_status_field(client, acme):
    admin = get_user_model().objects.create(username="root", is_superuser=True, is_staff=True)
    before = database_state()

    body = graphql(
        client,
        REGISTER,
        {"input": {"model": "demo.purchaserequest", "statusField": "no_such_field"}},
        user=admin,
    )

    assert body["data"]["registerModelForWorkflow"] == {
        "configuration": None,
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "demo.PurchaseRequest has no field 'no_such_field'.",
            "field": "statusField",
        },
    }
    assert database_state() == before


def test_register_model_for_workflow_is_for_superusers(client, acme):
    admin = get_user_model().objects.create(username="root", is_superuser=True, is_staff=True)
    variables = {
        "input": {
            "model": "demo.ticket",
            "statusField": "status",
            "completionStatusValue": "done",
            "rejectionStatusValue": "refused",
        }
    }
    before = database_state()

    refused = graphql(client, REGISTER, variables, user=acme.company)
    assert database_state() == before
    done = graphql(client, REGISTER, variables, user=admin)

    assert refused["data"]["registerModelForWorkflow"]["error"] == {
        "code": "PERMISSION_DENIED",
        "message": "Only administrators may configure models: a configuration applies to "
        "every company.",
        "field": None,
    }
    assert done["data"]["registerModelForWorkflow"] == {
        "configuration": {
            "model": "demo.ticket",
            "statusField": "status",
            "stageField": "",
            "completionStatusValue": "done",
            "rejectionStatusValue": "refused",
            "autoStartWorkflow": False,
            "isEnabled": True,
        },
        "error": None,
    }


def test_stage_info_is_accepted_in_the_stage_inputs_and_unknown_keys_are_refused(client, acme):
    cfo = str(acme.user("cfo").pk)
    stage_info = {
        "color": "#8e44ad",
        "approvals": [{"approval_type": "user", "approval_user": cfo}],
    }
    created = graphql(
        client,
        CREATE,
        {
            "input": {
                "nameEn": "With stage info",
                "pipelines": [
                    {
                        "nameEn": "Main",
                        "stages": {"list": [{"nameEn": "S", "stageInfo": stage_info}]},
                    }
                ],
            }
        },
        user=acme.company,
    )
    stage = Stage.objects.get(
        pipeline__workflow_id=database_id_of(created["data"]["createWorkflow"]["workflow"]["id"])
    )
    before = database_state()

    refused = graphql(
        client,
        UPDATE_STAGE,
        {"input": {"id": str(stage.pk), "stageInfo": {"colour": "red"}}},
        user=acme.company,
    )

    assert created["data"]["createWorkflow"]["workflow"]["pipelines"] == [
        {"nameEn": "Main", "stages": [{"nameEn": "S", "color": "#8e44ad"}]}
    ]
    assert stage.approvals == [
        {"approval_type": "user", "behaviour": "approve", "approval_user": int(cfo)}
    ]
    assert refused["data"]["updateStage"] == {
        "stage": None,
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "Unknown stage_info keys: colour.",
            "field": "stageInfo",
        },
    }
    assert database_state() == before
