"""The lookups a UI needs: colleagues, roles, forms, departments and a target's status.

Each list holds only the viewer's company's rows and costs the same SQL for few and many rows.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from backend.demo.models import Department
from backend.workflows.models import CompanyMembership, DynamicForm
from backend.workflows.services import attach_workflow_to_object
from tests.support.helpers import (
    assert_max_queries,
    global_id,
    graphql,
    make_purchase_request,
)

pytestmark = pytest.mark.django_db

COLLEAGUES = """
query($search: String, $first: Int!) { colleagues(search: $search, first: $first) {
  id databaseId username displayName } }
"""
ROLES = "query { roles { id name } }"
FORMS = "query { forms { id name schema } }"
DEPARTMENTS = "query { departments { id name } }"


def _names(body, field, key):
    assert "errors" not in body, body
    return [item[key] for item in body["data"][field]]


def test_colleagues_are_the_active_users_of_my_company(client, acme, globex):
    cfo = acme.user("cfo")
    get_user_model().objects.filter(pk=acme.user("employee").pk).update(is_active=False)

    everyone = _names(
        graphql(client, COLLEAGUES, {"first": 100}, user=acme.company), "colleagues", "username"
    )
    found = graphql(client, COLLEAGUES, {"search": "chief", "first": 5}, user=acme.company)

    assert "acme-employee" not in everyone
    assert all(name.startswith("acme") for name in everyone)
    assert everyone == sorted(everyone)
    assert found == {
        "data": {
            "colleagues": [
                {
                    "id": global_id("User", cfo.pk),
                    "databaseId": cfo.pk,
                    "username": cfo.username,
                    "displayName": cfo.first_name,
                }
            ]
        }
    }


def test_colleagues_refuse_a_page_out_of_range(client, acme):
    body = graphql(client, COLLEAGUES, {"first": 101}, user=acme.company)

    assert body["data"] is None
    (error,) = body["errors"]
    assert (error["message"], error["extensions"]) == (
        "Argument 'first' must be from 1 to 100.",
        {"code": "VALIDATION_ERROR", "field": "first"},
    )


def test_roles_forms_and_departments_are_my_companys(client, acme, globex):
    roles = _names(graphql(client, ROLES, user=acme.company), "roles", "name")
    forms = _names(graphql(client, FORMS, user=acme.company), "forms", "id")
    departments = _names(graphql(client, DEPARTMENTS, user=acme.company), "departments", "id")

    assert roles == sorted(group.name for group in acme.roles.values())
    assert sorted(forms) == sorted(global_id("Form", form.pk) for form in acme.forms.values())
    assert sorted(departments) == sorted(
        global_id("Department", department.pk) for department in acme.departments.values()
    )


@pytest.mark.parametrize(
    ("document", "field"),
    [(COLLEAGUES, "colleagues"), (ROLES, "roles"), (FORMS, "forms"), (DEPARTMENTS, "departments")],
)
def test_lookups_cost_the_same_queries_for_few_and_many_rows(client, acme, document, field):
    variables = {"first": 100} if field == "colleagues" else {}
    graphql(client, document, variables, user=acme.company)  # warm the token and caches
    with assert_max_queries(10) as few:
        small = graphql(client, document, variables, user=acme.company)

    for n in range(30):
        user = get_user_model().objects.create_user(username=f"acme-extra{n}")
        CompanyMembership.objects.create(user=user, company=acme.company)
        group = Group.objects.create(name=f"Acme: extra {n}")
        user.groups.add(group)
        DynamicForm.objects.create(company=acme.company, name=f"Extra {n}")
        Department.objects.create(company=acme.company, name=f"Extra {n}")
    with assert_max_queries(len(few.captured_queries)) as many:
        large = graphql(client, document, variables, user=acme.company)

    assert "errors" not in small and "errors" not in large
    assert len(many.captured_queries) == len(few.captured_queries)


def test_target_status_is_the_configured_status_field(client, acme):
    request = make_purchase_request(acme)
    attachment = attach_workflow_to_object(
        obj=request, workflow=acme.workflow, user=acme.user("requester")
    )

    body = graphql(
        client,
        "query($id: ID!) { workflowAttachment(id: $id) { target { model objectId display status } } }",
        {"id": global_id("WorkflowAttachment", attachment.pk)},
        user=acme.company,
    )

    assert body["data"]["workflowAttachment"]["target"] == {
        "model": "demo.purchaserequest",
        "objectId": str(request.pk),
        "display": str(request),
        "status": request.workflow_status,
    }


WORKFLOW_MODELS = """
query { workflowModels { model isEnabled autoStartWorkflow statusField
  completionStatusValue rejectionStatusValue } }
"""


def test_workflow_models_are_the_enabled_models_with_their_configuration(client, acme):
    body = graphql(client, WORKFLOW_MODELS, user=acme.company)

    assert "errors" not in body, body
    by_model = {item["model"]: item for item in body["data"]["workflowModels"]}
    assert by_model["demo.purchaserequest"] == {
        "model": "demo.purchaserequest",
        "isEnabled": True,
        "autoStartWorkflow": False,
        "statusField": "workflow_status",
        "completionStatusValue": "approved",
        "rejectionStatusValue": "denied",
    }
    assert list(by_model) == sorted(by_model)


def test_workflow_models_cost_the_same_queries_for_one_and_three_models(client, acme):
    from backend.workflows.models import WorkflowConfiguration

    graphql(client, WORKFLOW_MODELS, user=acme.company)
    kept = WorkflowConfiguration.objects.filter(content_type__model="purchaserequest")
    others = list(WorkflowConfiguration.objects.exclude(pk__in=kept.values("pk")))
    WorkflowConfiguration.objects.filter(pk__in=[c.pk for c in others]).update(is_enabled=False)
    with assert_max_queries(10) as one:
        few = graphql(client, WORKFLOW_MODELS, user=acme.company)
    WorkflowConfiguration.objects.filter(pk__in=[c.pk for c in others]).update(is_enabled=True)
    with assert_max_queries(len(one.captured_queries)) as three:
        many = graphql(client, WORKFLOW_MODELS, user=acme.company)

    assert len(few["data"]["workflowModels"]) == 1
    assert len(many["data"]["workflowModels"]) == 3
    assert len(three.captured_queries) == len(one.captured_queries)
