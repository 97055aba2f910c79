"""Global object identification: ``node(id:)``, ``nodes(ids:)``, global ids in inputs.

Every Node type is refetched by its global id; another company's object is null, never data;
an input takes a global id of its type or a raw database id, and the global id of another
type is NOT_FOUND naming the field.
"""

from __future__ import annotations

from typing import Any

import pytest

from backend.workflows.constants import ActionType
from backend.workflows.models import Pipeline, Stage, WorkflowEvent
from backend.workflows.services import attach_workflow_to_object, create_workflow_action
from tests.support.database_state import database_state
from tests.support.helpers import (
    assert_max_queries,
    global_id,
    graphql,
    make_purchase_request,
)
from tests.support.purchase_steps import approve_current_stage

pytestmark = pytest.mark.django_db

RECORD = "tests.support.action_handlers.record"


@pytest.fixture(autouse=True)
def _allow_test_handlers(settings):
    settings.WORKFLOW_ACTION_ALLOWED_MODULES = ["tests.support.action_handlers"]


def node_query(type_name: str) -> str:
    """Return a document refetching one node, with the databaseId of ``type_name``."""
    return f"query($id: ID!) {{ node(id: $id) {{ __typename id ... on {type_name} {{ databaseId }} }} }}"


NODES = """
query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
  ... on Workflow { pipelines { stages { nameEn } } } } }
"""


def _objects(scenario: Any) -> dict[str, int]:
    """Return one object of every Node type of ``scenario``'s company, by type name."""
    request = make_purchase_request(scenario)
    attachment = attach_workflow_to_object(
        obj=request, workflow=scenario.workflow, user=scenario.user("requester")
    )
    pipeline = Pipeline.objects.filter(workflow=scenario.workflow).order_by("order").first()
    stage = Stage.objects.filter(pipeline=pipeline).order_by("order").first()
    action = create_workflow_action(
        workflow=scenario.workflow, action_type=ActionType.AFTER_APPROVE, function_path=RECORD
    )
    return {
        "Workflow": scenario.workflow.pk,
        "Pipeline": pipeline.pk,
        "Stage": stage.pk,
        "WorkflowAttachment": attachment.pk,
        "WorkflowEvent": WorkflowEvent.objects.filter(attachment=attachment).first().pk,
        "WorkflowAction": action.pk,
        "User": scenario.user("requester").pk,
        "Role": next(iter(scenario.roles.values())).pk,
        "Form": next(iter(scenario.forms.values())).pk,
        "Department": next(iter(scenario.departments.values())).pk,
        "Company": scenario.company.pk,
        "PurchaseRequest": request.pk,
    }


NODE_TYPES = [
    "Workflow",
    "Pipeline",
    "Stage",
    "WorkflowAttachment",
    "WorkflowEvent",
    "WorkflowAction",
    "User",
    "Role",
    "Form",
    "Department",
    "Company",
    "PurchaseRequest",
]


def test_every_node_type_is_covered():
    from schema import schema

    implementing = {
        name
        for name, graphql_type in schema._schema.type_map.items()
        if any(interface.name == "Node" for interface in getattr(graphql_type, "interfaces", []))
    }
    assert implementing == set(NODE_TYPES)


@pytest.mark.parametrize("type_name", NODE_TYPES)
def test_node_refetches_every_type(client, acme, type_name):
    key = _objects(acme)[type_name]

    body = graphql(
        client, node_query(type_name), {"id": global_id(type_name, key)}, user=acme.company
    )

    assert "errors" not in body, body
    node = body["data"]["node"]
    assert (node["__typename"], node["id"], node["databaseId"]) == (
        type_name,
        global_id(type_name, key),
        key,
    )


@pytest.mark.parametrize("type_name", NODE_TYPES)
def test_node_of_another_company_is_null(client, acme, globex, type_name):
    key = _objects(acme)[type_name]

    body = graphql(
        client, node_query(type_name), {"id": global_id(type_name, key)}, user=globex.company
    )

    assert body == {"data": {"node": None}}


def test_nodes_keep_order_and_refuse_other_companies(client, acme, globex):
    acme_objects, globex_objects = _objects(acme), _objects(globex)
    ids = [
        global_id("Stage", acme_objects["Stage"]),
        global_id("Stage", globex_objects["Stage"]),
        "not a global id",
        global_id("Workflow", acme_objects["Workflow"]),
        global_id("Nothing", 1),
    ]

    body = graphql(
        client, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}, user=acme.company
    )

    assert body == {"data": {"nodes": [{"id": ids[0]}, None, None, {"id": ids[3]}, None]}}


def test_stored_actions_are_null_for_who_may_not_manage_them(client, acme):
    key = _objects(acme)["WorkflowAction"]

    body = graphql(
        client,
        node_query("WorkflowAction"),
        {"id": global_id("WorkflowAction", key)},
        user=acme.user("requester"),
    )

    assert body == {"data": {"node": None}}


def test_nodes_cost_the_same_queries_for_1_and_20_workflows(client, acme):
    from backend.workflows.services import clone_workflow

    copies = [
        clone_workflow(workflow=acme.workflow, created_by=acme.company, name_en=f"Copy {n}")
        for n in range(19)
    ]
    one = [global_id("Workflow", acme.workflow.pk)]
    many = one + [global_id("Workflow", copy.pk) for copy in copies]
    graphql(client, NODES, {"ids": one}, user=acme.company)  # warm the token and caches

    with assert_max_queries(100) as small:
        first = graphql(client, NODES, {"ids": one}, user=acme.company)
    with assert_max_queries(len(small.captured_queries)) as large:
        second = graphql(client, NODES, {"ids": many}, user=acme.company)

    assert "errors" not in first and "errors" not in second, (first, second)
    assert len(second["data"]["nodes"]) == 20
    assert len(large.captured_queries) == len(small.captured_queries)


def test_more_than_100_ids_are_refused(client, acme):
    body = graphql(
        client,
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [global_id("Stage", n) for n in range(101)]},
        user=acme.company,
    )

    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == "Argument 'ids' cannot hold more than 100 ids."
    assert error["extensions"] == {"code": "VALIDATION_ERROR", "field": "ids"}


# ----------------------------------------------------------------------------- id inputs

WORKFLOW = "query($id: ID!) { workflow(id: $id) { id databaseId } }"
CANCEL = """
mutation($input: CancelWorkflowInput!) { cancelWorkflow(input: $input) {
  attachment { id status } error { code message field } } }
"""


def test_an_input_takes_the_global_id_or_the_database_id(client, acme):
    expected = {"id": global_id("Workflow", acme.workflow.pk), "databaseId": acme.workflow.pk}

    by_global = graphql(client, WORKFLOW, {"id": expected["id"]}, user=acme.company)
    by_key = graphql(client, WORKFLOW, {"id": str(acme.workflow.pk)}, user=acme.company)

    assert by_global == by_key == {"data": {"workflow": expected}}


def test_a_query_refuses_the_global_id_of_another_type(client, acme):
    stage = Stage.objects.filter(pipeline__workflow=acme.workflow).first()

    body = graphql(client, WORKFLOW, {"id": global_id("Stage", stage.pk)}, user=acme.company)

    (error,) = body["errors"]
    assert error["message"] == "Workflow not found."
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "id"}


def test_a_mutation_refuses_the_global_id_of_another_type_and_changes_nothing(client, acme):
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )
    approve_current_stage(attachment, request)
    before = database_state()

    body = graphql(
        client,
        CANCEL,
        {"input": {"attachmentId": global_id("Workflow", attachment.pk)}},
        user=acme.company,
    )

    assert body["data"]["cancelWorkflow"] == {
        "attachment": None,
        "error": {
            "code": "NOT_FOUND",
            "message": "Workflow attachment not found.",
            "field": "attachmentId",
        },
    }
    assert database_state() == before
