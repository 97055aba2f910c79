"""Stage conditions through GraphQL: set on createWorkflow, addStage and updateStage; read on Stage."""

from __future__ import annotations

import pytest

from backend.workflows.constants import EventType
from backend.workflows.models import Stage, Workflow
from backend.workflows.services import attach_workflow_to_object
from tests.support.database_state import database_state, event_types
from tests.support.helpers import global_id, graphql, make_purchase_request

pytestmark = pytest.mark.django_db

ERROR = "error { code field message }"
CREATE = (
    "mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) {"
    " workflow { id pipelines { stages { nameEn condition } } } " + ERROR + " } }"
)
ADD_STAGE = (
    "mutation($input: AddStageInput!) { addStage(input: $input) {"
    " stage { nameEn condition } " + ERROR + " } }"
)
UPDATE_STAGE = (
    "mutation($input: UpdateStageInput!) { updateStage(input: $input) {"
    " stage { nameEn condition } " + ERROR + " } }"
)


def approval(user):
    return {"approvalType": "USER", "userId": global_id("User", user.pk)}


def create_input(acme, condition):
    return {
        "nameEn": "Conditional",
        "pipelines": [
            {
                "nameEn": "Main",
                "stages": {
                    "list": [
                        {"nameEn": "Review", "approvals": [approval(acme.user("employee"))]},
                        {
                            "nameEn": "Executive",
                            "approvals": [approval(acme.user("cfo"))],
                            "condition": condition,
                        },
                    ]
                },
            }
        ],
    }


def test_create_workflow_stores_the_condition_and_the_run_skips_the_stage(client, acme):
    # given / when
    body = graphql(
        client, CREATE, {"input": create_input(acme, {"amount__gte": 10000})}, user=acme.company
    )

    # then: the condition is read back on the stage
    payload = body["data"]["createWorkflow"]
    assert payload["error"] is None
    assert payload["workflow"]["pipelines"][0]["stages"] == [
        {"nameEn": "Review", "condition": None},
        {"nameEn": "Executive", "condition": {"amount__gte": 10000}},
    ]
    # and a small request skips the Executive stage once Review approves
    workflow = Workflow.objects.get(name_en="Conditional")
    request = make_purchase_request(acme, amount="500.00")
    attachment = attach_workflow_to_object(
        obj=request, workflow=workflow, user=acme.user("requester")
    )
    from backend.workflows.services import approve_stage

    approve_stage(obj=request, user=acme.user("employee"))
    assert EventType.STAGE_SKIPPED in event_types(attachment)
    attachment.refresh_from_db()
    assert attachment.status == "completed"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (["amount"], 'A condition is an object of Django lookups, e.g. {"amount__gte": 10000}.'),
        ({"amount gte": 1}, "'amount gte' is not a field lookup."),
        (
            {"amount__gte": {"nested": 1}},
            "The value of 'amount__gte' must be a string, number, boolean, null or a list of them.",
        ),
    ],
)
def test_a_bad_condition_is_a_typed_error_and_creates_nothing(client, acme, condition, message):
    before = database_state()

    body = graphql(client, CREATE, {"input": create_input(acme, condition)}, user=acme.company)

    error = body["data"]["createWorkflow"]["error"]
    assert (error["code"], error["message"]) == ("VALIDATION_ERROR", message)
    assert error["field"].endswith("condition")
    assert database_state() == before


def test_add_stage_and_update_stage_set_keep_and_remove_the_condition(client, acme):
    # given: the seed workflow's first pipeline
    pipeline = acme.workflow.pipelines.order_by("order").first()

    # when: a stage is added with a condition, then renamed, then its condition removed
    added = graphql(
        client,
        ADD_STAGE,
        {
            "input": {
                "pipelineId": global_id("Pipeline", pipeline.pk),
                "nameEn": "Large orders",
                "approvals": [approval(acme.user("cfo"))],
                "condition": {"amount__gt": 50000},
            }
        },
        user=acme.company,
    )
    stage = Stage.objects.get(name_en="Large orders")
    renamed = graphql(
        client,
        UPDATE_STAGE,
        {"input": {"id": global_id("Stage", stage.pk), "nameEn": "Very large orders"}},
        user=acme.company,
    )
    cleared = graphql(
        client,
        UPDATE_STAGE,
        {"input": {"id": global_id("Stage", stage.pk), "condition": None}},
        user=acme.company,
    )

    # then
    assert added["data"]["addStage"]["stage"] == {
        "nameEn": "Large orders",
        "condition": {"amount__gt": 50000},
    }
    assert renamed["data"]["updateStage"]["stage"] == {
        "nameEn": "Very large orders",
        "condition": {"amount__gt": 50000},
    }
    assert cleared["data"]["updateStage"]["stage"] == {
        "nameEn": "Very large orders",
        "condition": None,
    }


def test_update_stage_refuses_a_bad_condition_and_another_company(client, acme, globex):
    stage = acme.workflow.pipelines.order_by("order").first().stages.order_by("order").first()
    before = database_state()

    bad = graphql(
        client,
        UPDATE_STAGE,
        {"input": {"id": global_id("Stage", stage.pk), "condition": "amount > 5"}},
        user=acme.company,
    )
    foreign = graphql(
        client,
        UPDATE_STAGE,
        {"input": {"id": global_id("Stage", stage.pk), "condition": {"amount__gte": 1}}},
        user=globex.company,
    )

    assert bad["data"]["updateStage"]["error"] == {
        "code": "VALIDATION_ERROR",
        "field": "condition",
        "message": 'A condition is an object of Django lookups, e.g. {"amount__gte": 10000}.',
    }
    assert foreign["data"]["updateStage"]["error"]["code"] == "NOT_FOUND"
    assert database_state() == before
