"""The business object of an attachment (``Target``) and the lookups that take its global id.

``Target.id`` is the object's global id; ``availableWorkflows``, ``attachWorkflow`` and
``workflowAttachmentFor`` accept it as well as the primary key, never another type's id or
another company's object. ``workflowModels`` shows each model's default workflow in the
viewer's company.
"""

from __future__ import annotations

import pytest

from backend.demo.models import Ticket
from backend.workflows.models import WorkflowAttachment, WorkflowConfiguration
from backend.workflows.services import attach_workflow_to_object, create_workflow
from tests.support.database_state import database_state
from tests.support.helpers import (
    api_token_for,
    assert_max_queries,
    global_id,
    graphql,
    make_purchase_request,
)
from tests.support.workflow_builders import user_approval

pytestmark = pytest.mark.django_db

TARGET = """
query($id: ID!) { workflowAttachment(id: $id) {
  target { __typename id model objectId display status } } }
"""
AVAILABLE = """
query($model: String!, $objectId: ID) { availableWorkflows(model: $model, objectId: $objectId) { slug } }
"""
ATTACH = """
mutation($input: AttachWorkflowInput!) { attachWorkflow(input: $input) {
  attachment { target { id objectId } } error { code message field } } }
"""
ATTACHMENT_FOR = """
query($model: String!, $objectId: ID!) { workflowAttachmentFor(model: $model, objectId: $objectId) {
  id } }
"""
WORKFLOW_MODELS = "query { workflowModels { model defaultWorkflow { id slug } } }"


@pytest.fixture
def engine(settings):
    def configure(**keys):
        settings.DJANGO_WORKFLOW_ENGINE = {**settings.DJANGO_WORKFLOW_ENGINE, **keys}

    return configure


def template(scenario, slug, *, status=None):
    return create_workflow(
        company=scenario.company,
        name_en=slug.replace("_", " ").title(),
        slug=slug,
        status=status,
        pipelines=[
            {
                "name_en": "Main",
                "stages": [{"name_en": "Step", "approvals": [user_approval(scenario.user("cfo"))]}],
            }
        ],
    )


def ticket_attachment(scenario):
    ticket = Ticket.objects.create(title="Printer jam", created_by=scenario.user("requester"))
    attachment = attach_workflow_to_object(
        obj=ticket, workflow=scenario.workflow, user=scenario.user("requester"), auto_start=False
    )
    return ticket, attachment


def test_a_model_without_a_type_of_its_own_is_a_business_object(client, acme):
    ticket, attachment = ticket_attachment(acme)

    body = graphql(
        client, TARGET, {"id": global_id("WorkflowAttachment", attachment.pk)}, user=acme.company
    )

    assert body["data"]["workflowAttachment"]["target"] == {
        "__typename": "BusinessObject",
        "id": global_id("demo.ticket", ticket.pk),
        "model": "demo.ticket",
        "objectId": str(ticket.pk),
        "display": "Printer jam",
        "status": "open",
    }


def test_a_deleted_object_is_a_business_object_without_status(client, acme):
    ticket, attachment = ticket_attachment(acme)
    key = ticket.pk
    Ticket.objects.filter(pk=key).delete()
    attachment = WorkflowAttachment.objects.filter(pk=attachment.pk).first()
    if attachment is None:  # the attachment went with its object: nothing left to show
        pytest.fail("deleting the ticket deleted its attachment")

    body = graphql(
        client, TARGET, {"id": global_id("WorkflowAttachment", attachment.pk)}, user=acme.company
    )

    assert body["data"]["workflowAttachment"]["target"] == {
        "__typename": "BusinessObject",
        "id": global_id("demo.ticket", key),
        "model": "demo.ticket",
        "objectId": str(key),
        "display": "(deleted)",
        "status": None,
    }


def test_available_workflows_take_the_global_id_honouring_the_mappings(client, acme, engine):
    template(acme, "emergency_approval")
    template(acme, "unmapped")
    engine(
        MODEL_WORKFLOW_MAPPINGS={
            "demo.PurchaseRequest": ["purchase_approval", "emergency_approval"]
        }
    )
    request = make_purchase_request(acme)
    token = api_token_for(acme.user("requester"))

    by_global_id = graphql(
        client,
        AVAILABLE,
        {"model": "demo.purchaserequest", "objectId": global_id("PurchaseRequest", request.pk)},
        token=token,
    )
    by_key = graphql(
        client,
        AVAILABLE,
        {"model": "demo.purchaserequest", "objectId": str(request.pk)},
        token=token,
    )

    assert by_global_id == by_key
    assert [w["slug"] for w in by_global_id["data"]["availableWorkflows"]] == [
        "emergency_approval",
        "purchase_approval",
    ]


@pytest.mark.parametrize(
    "object_id",
    [
        pytest.param(
            lambda acme, globex: global_id("PurchaseRequest", make_purchase_request(globex).pk),
            id="other-company",
        ),
        pytest.param(
            lambda acme, globex: global_id("Workflow", acme.workflow.pk), id="another-type"
        ),
        pytest.param(
            lambda acme, globex: global_id("demo.ticket", make_purchase_request(acme).pk),
            id="another-model",
        ),
    ],
)
def test_available_workflows_refuse_ids_that_are_not_the_viewers_object(
    client, acme, globex, object_id
):
    body = graphql(
        client,
        AVAILABLE,
        {"model": "demo.purchaserequest", "objectId": object_id(acme, globex)},
        user=acme.user("requester"),
    )

    assert body["data"] is None
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        ("Object not found.", {"code": "NOT_FOUND", "field": "objectId"})
    ]


def test_attach_workflow_takes_the_objects_global_id(client, acme):
    request = make_purchase_request(acme)

    body = graphql(
        client,
        ATTACH,
        {
            "input": {
                "model": "demo.purchaserequest",
                "objectId": global_id("PurchaseRequest", request.pk),
                "workflowId": global_id("Workflow", acme.workflow.pk),
                "autoStart": False,
            }
        },
        user=acme.user("requester"),
    )

    assert body["data"]["attachWorkflow"] == {
        "attachment": {
            "target": {"id": global_id("PurchaseRequest", request.pk), "objectId": str(request.pk)}
        },
        "error": None,
    }
    found = graphql(
        client,
        ATTACHMENT_FOR,
        {"model": "demo.purchaserequest", "objectId": global_id("PurchaseRequest", request.pk)},
        user=acme.user("requester"),
    )
    assert found["data"]["workflowAttachmentFor"]["id"] == global_id(
        "WorkflowAttachment", WorkflowAttachment.objects.get().pk
    )


def test_attach_workflow_refuses_another_companys_object_by_global_id(client, acme, globex):
    request = make_purchase_request(globex)
    before = database_state()

    body = graphql(
        client,
        ATTACH,
        {
            "input": {
                "model": "demo.purchaserequest",
                "objectId": global_id("PurchaseRequest", request.pk),
                "workflowId": global_id("Workflow", acme.workflow.pk),
            }
        },
        user=acme.user("requester"),
    )

    assert body["data"]["attachWorkflow"] == {
        "attachment": None,
        "error": {"code": "NOT_FOUND", "message": "Object not found.", "field": "objectId"},
    }
    assert database_state() == before


def _defaults(body):
    return {item["model"]: item["defaultWorkflow"] for item in body["data"]["workflowModels"]}


def test_workflow_models_show_the_default_workflow_of_the_viewers_company(
    client, acme, globex, engine
):
    # given: the configured default is Acme's template; tickets auto-start by slug in each company
    WorkflowConfiguration.objects.filter(content_type__model="purchaserequest").update(
        default_workflow=acme.workflow
    )
    acme_ticket_flow = template(acme, "ticket_triage")
    globex_ticket_flow = template(globex, "ticket_triage")
    template(globex, "ticket_triage", status="draft")
    engine(AUTO_START_WORKFLOWS={"demo.Ticket": {"workflow_slug": "ticket_triage"}})

    # when
    acme_body = graphql(client, WORKFLOW_MODELS, user=acme.user("requester"))
    globex_body = graphql(client, WORKFLOW_MODELS, user=globex.user("requester"))

    # then
    assert _defaults(acme_body) == {
        "demo.opportunity": None,
        "demo.purchaserequest": {
            "id": global_id("Workflow", acme.workflow.pk),
            "slug": "purchase_approval",
        },
        "demo.ticket": {"id": global_id("Workflow", acme_ticket_flow.pk), "slug": "ticket_triage"},
    }
    assert _defaults(globex_body) == {
        "demo.opportunity": None,
        "demo.purchaserequest": None,  # Acme's template is never another company's default
        "demo.ticket": {
            "id": global_id("Workflow", globex_ticket_flow.pk),
            "slug": "ticket_triage",
        },
    }


def test_a_default_workflow_the_mappings_forbid_is_none(client, acme, engine):
    WorkflowConfiguration.objects.filter(content_type__model="purchaserequest").update(
        default_workflow=acme.workflow
    )
    engine(MODEL_WORKFLOW_MAPPINGS={"demo.PurchaseRequest": ["emergency_approval"]})

    body = graphql(client, WORKFLOW_MODELS, user=acme.user("requester"))

    assert _defaults(body)["demo.purchaserequest"] is None


def test_workflow_models_with_defaults_cost_the_same_queries_for_one_and_three(
    client, acme, engine
):
    token = api_token_for(acme.user("requester"))
    graphql(client, WORKFLOW_MODELS, token=token)  # the token's first use records it
    for model in ("ticket", "opportunity"):
        template(acme, f"{model}_flow")
    engine(AUTO_START_WORKFLOWS={"demo.Ticket": {"workflow_slug": "ticket_flow"}})
    others = WorkflowConfiguration.objects.exclude(content_type__model="purchaserequest")
    WorkflowConfiguration.objects.filter(content_type__model="purchaserequest").update(
        default_workflow=acme.workflow
    )
    others.filter(content_type__model="opportunity").update(
        default_workflow=acme.workflow.__class__.objects.get(slug="opportunity_flow")
    )
    keys = list(others.values_list("pk", flat=True))
    WorkflowConfiguration.objects.filter(pk__in=keys).update(is_enabled=False)
    # the token, the configurations, the templates named by slug, the configured defaults
    with assert_max_queries(4):
        few = graphql(client, WORKFLOW_MODELS, token=token)
    WorkflowConfiguration.objects.filter(pk__in=keys).update(is_enabled=True)
    with assert_max_queries(4) as three:
        many = graphql(client, WORKFLOW_MODELS, token=token)

    assert len(three.captured_queries) == 4
    assert [d["slug"] for d in _defaults(few).values()] == ["purchase_approval"]
    assert sorted(d["slug"] for d in _defaults(many).values()) == [
        "opportunity_flow",
        "purchase_approval",
        "ticket_flow",
    ]
