"""Issue #11's medium and low findings, one regression test each (or a parametrized few)."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from backend.accounts.models import ApiToken
from backend.accounts.tokens import create_api_token, parse_duration
from backend.workflows.constants import ActionType, EventType
from backend.workflows.models import WorkflowAction, WorkflowEvent
from backend.workflows.services import attach_workflow_to_object
from tests.support.database_state import database_state
from tests.support.helpers import graphql, make_purchase_request
from tests.support.purchase_steps import approve_current_stage, start_purchase_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_settings(settings):
    settings.DEBUG = False
    if hasattr(settings, "GRAPHQL_INTROSPECTION"):
        del settings.GRAPHQL_INTROSPECTION
    return settings


# ----------------------------------------------------------------------------- no schema leaks


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            "query { workflows(frist: 1) { totalCount } }",
            None,
            "Unknown argument 'frist' on field 'Query.workflows'.",
        ),
        (
            "query { workflowAttachments(filter: {status: [IN_PROGRES]}) { totalCount } }",
            None,
            "Value 'IN_PROGRES' does not exist in 'AttachmentStatus' enum.",
        ),
        (
            "query { workflowAttachments(filter: {statuz: [IN_PROGRESS]}) { totalCount } }",
            None,
            "Expected value of type 'WorkflowAttachmentFilter' not to include unknown field "
            "'statuz'. Found: { statuz: [IN_PROGRESS] }.",
        ),
        (
            "query($x: Workflw) { workflows(first: $x) { totalCount } }",
            None,
            "Unknown type 'Workflw'.",
        ),
        (
            "mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) { error { code } } }",
            {"input": {"nameEn": "x", "nmeAr": "y"}},
            "Variable '$input' has invalid value: Expected value of type 'CreateWorkflowInput' "
            "not to include unknown field 'nmeAr'. Found: {'nameEn': 'x', 'nmeAr': 'y'}.",
        ),
        (
            "query($s: [AttachmentStatus!]) { workflowAttachments(filter: {status: $s}) { totalCount } }",
            {"s": ["IN_PROGRES"]},
            "Variable '$s' has invalid value at [0]: Value 'IN_PROGRES' does not exist in "
            "'AttachmentStatus' enum.",
        ),
    ],
    ids=["argument", "enum-value", "input-field", "type-name", "variable-field", "variable-enum"],
)
def test_no_suggestion_names_the_schema_when_introspection_is_off(
    client, acme, production_settings, query, variables, message
):
    body = graphql(client, query, variables, user=acme.user("employee"))

    assert [error["message"] for error in body["errors"]][-1] == message
    assert "Did you mean" not in str(body)


def test_suggestions_stay_when_introspection_is_on(client, acme, settings):
    settings.DEBUG = True

    body = graphql(
        client, "query { workflows(frist: 1) { totalCount } }", user=acme.user("employee")
    )

    assert [error["message"] for error in body["errors"]] == [
        "Unknown argument 'frist' on field 'Query.workflows'. Did you mean 'first' or 'last'?"
    ]


def test_the_introspection_refusal_is_one_error_with_a_code(client, acme, production_settings):
    body = graphql(
        client,
        'query { __schema { queryType { name } } __type(name: "Workflow") { name } }',
        user=acme.user("employee"),
    )

    assert body == {
        "data": None,
        "errors": [
            {
                "message": "GraphQL introspection has been disabled, but the requested query "
                "contained the field '__schema'.",
                "locations": [{"line": 1, "column": 9}],
                "extensions": {"code": "INTROSPECTION_DISABLED"},
            }
        ],
    }


# ----------------------------------------------------------------------------- ACTION_FAILED

EVENTS = """
query($id: ID!) { workflowAttachment(id: $id) { events { nodes { type details } } } }
"""
FAILURE = {
    "action_id": 7,
    "function_path": "myapp.hooks.notify_erp",
    "action_type": "after_approve",
    "level": "workflow",
    "error": "OperationalError: could not connect to erp-db.internal:5432",
    "event_id": 1,
    "skipped": [{"action_id": 8, "function_path": "myapp.hooks.archive"}],
}


@pytest.fixture
def failed_action(acme):
    attachment = attach_workflow_to_object(
        obj=make_purchase_request(acme), workflow=acme.workflow, user=acme.user("requester")
    )
    WorkflowEvent.objects.create(
        attachment=attachment,
        company_id=attachment.company_id,
        event_type=EventType.ACTION_FAILED,
        details=FAILURE,
    )
    return attachment


@pytest.mark.parametrize(
    ("viewer", "details"),
    [
        ("company", FAILURE),
        (
            "requester",
            {
                "action_id": 7,
                "action_type": "after_approve",
                "level": "workflow",
                "event_id": 1,
                "skipped": [{"action_id": 8}],
            },
        ),
    ],
    ids=["workflow-manager", "requester"],
)
def test_a_failed_actions_error_is_shown_to_workflow_managers_only(
    client, acme, failed_action, viewer, details
):
    body = graphql(client, EVENTS, {"id": failed_action.pk}, user=acme.user(viewer))

    nodes = body["data"]["workflowAttachment"]["events"]["nodes"]
    assert [node["details"] for node in nodes if node["type"] == "ACTION_FAILED"] == [details]


# ----------------------------------------------------------------------------- logging


def test_an_expected_error_is_logged_as_one_line(client, acme, caplog):
    # when: a query the schema refuses with a domain error
    with caplog.at_level(logging.INFO, logger="schema.errors"):
        body = graphql(
            client, "query { workflows(first: 101) { totalCount } }", user=acme.user("employee")
        )

    # then
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"
    records = [r for r in caplog.records if r.name.startswith(("schema", "strawberry"))]
    assert [(r.name, r.levelno, r.getMessage(), r.exc_info) for r in records] == [
        (
            "schema.errors",
            logging.INFO,
            "GraphQL error VALIDATION_ERROR at workflows: "
            "Argument 'first' cannot be higher than 100.",
            None,
        )
    ]


def test_a_validation_error_is_logged_as_one_line(client, acme, caplog):
    with caplog.at_level(logging.INFO):
        graphql(client, "query { workflowz }", user=acme.user("employee"))

    records = [r for r in caplog.records if r.name.startswith(("schema", "strawberry"))]
    assert [(r.name, r.getMessage(), r.exc_info) for r in records] == [
        (
            "schema.errors",
            "GraphQL error GRAPHQL at -: Cannot query field 'workflowz' on type 'Query'.",
            None,
        )
    ]


# ----------------------------------------------------------------------------- malformed HTTP


def raw_post(body: bytes, **headers):
    from django.test import Client

    return Client(raise_request_exception=False).post(
        "/graphql", data=body, content_type="application/json", **headers
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"query": "{ __typename }", "variables": {"a": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}}",
            b"The request body is nested more than 64 levels deep.",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 65 + b"]" * 65 + b"}}",
            b"The request body is nested more than 64 levels deep.",
        ),
        (b'{"query": "{ __typename \xff }"}', b"The request body is not valid UTF-8."),
        (
            b'{"query": "subscription { myInboxChanged { attachmentId } }"}',
            b"Subscriptions are served over WebSocket (graphql-transport-ws) at /graphql, "
            b"not over HTTP.",
        ),
    ],
    ids=["nested-100000", "nested-65", "invalid-utf8", "subscription"],
)
def test_a_malformed_request_is_a_400_with_a_clear_message(acme, body, message):
    response = raw_post(body)

    assert (response.status_code, response.content) == (400, message)


def test_a_subscription_over_multipart_http_is_a_400(acme):
    response = raw_post(
        b'{"query": "subscription { myInboxChanged { attachmentId } }"}',
        HTTP_ACCEPT="multipart/mixed;subscriptionSpec=1.0, application/json",
    )

    assert response.status_code == 400
    assert response.content.startswith(b"Subscriptions are served over WebSocket")


def test_a_body_nested_64_deep_is_served(acme):
    body = b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 62 + b"]" * 62 + b"}}"

    response = raw_post(body)

    assert (response.status_code, response.json()) == (200, {"data": {"__typename": "Query"}})


# ----------------------------------------------------------------------------- token expiry

ME = "query { me { user { username } } }"
REFUSED = {
    "errors": [
        {"message": "Invalid or revoked API token.", "extensions": {"code": "UNAUTHENTICATED"}}
    ]
}


def post_as(client, raw: str):
    return client.post(
        "/graphql",
        data={"query": ME},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )


def test_an_expired_token_is_refused_like_a_revoked_one(client, acme):
    # given: a token valid for a day
    row, raw = create_api_token(user=acme.user("employee"), expires_in=timedelta(days=1))
    assert post_as(client, raw).json() == {"data": {"me": {"user": {"username": "acme-employee"}}}}

    # when: the day is over
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post_as(client, raw)

    # then
    assert (response.status_code, response.json()) == (401, REFUSED)
    row.refresh_from_db()
    assert row.is_active is False


def test_create_api_token_expires_in_thirty_days(client, acme, monkeypatch):
    # given: a fixed clock
    now = timezone.now()
    monkeypatch.setattr("backend.accounts.tokens.timezone.now", lambda: now)
    out = StringIO()

    # when
    call_command("create_api_token", "acme-employee", "--expires-in", "30d", stdout=out)

    # then
    row = ApiToken.objects.get(user=acme.user("employee"))
    assert row.expires_at == now + timedelta(days=30)
    assert post_as(client, out.getvalue().strip()).status_code == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90))],
)
def test_durations_are_read(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30", "0d", "-1d", "1y", "d"])
def test_create_api_token_refuses_a_malformed_duration(acme, text):
    with pytest.raises(CommandError) as error:
        call_command("create_api_token", "acme-employee", f"--expires-in={text}", stdout=StringIO())

    assert str(error.value) == f"{text!r} is not a duration such as 30d, 12h, 90m or 2w."
    assert ApiToken.objects.count() == 0


def test_a_token_without_expiry_never_expires(acme):
    row, _ = create_api_token(user=acme.user("employee"))

    assert (row.expires_at, row.is_active) == (None, True)


# ----------------------------------------------------------------------------- stored e-mail actions

CREATE_ACTION = """
mutation($input: CreateWorkflowActionInput!) {
  createWorkflowAction(input: $input) { action { id } error { code message field } }
}
"""
NOTIFY = "backend.workflows.notifications.send_workflow_notification"


def email_action(workflow, parameters):
    return {
        "input": {
            "scope": {"workflowId": str(workflow.pk)},
            "actionType": "AFTER_APPROVE",
            "functionPath": NOTIFY,
            "parameters": parameters,
        }
    }


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        (
            {"template": "../../../../etc/passwd"},
            {
                "code": "VALIDATION_ERROR",
                "message": "Unknown e-mail template '../../../../etc/passwd'; name one of the "
                "templates under workflows/email/ (e.g. approved), not a path.",
                "field": "parameters.template",
            },
        ),
        (
            {"template": "base"},
            {
                "code": "VALIDATION_ERROR",
                "message": "Unknown e-mail template 'base'; name one of the templates under "
                "workflows/email/ (e.g. approved), not a path.",
                "field": "parameters.template",
            },
        ),
        (
            {"template": "approved", "recipients": ["creator", "everyone"]},
            {
                "code": "VALIDATION_ERROR",
                "message": "Unknown recipient 'everyone'; use creator, current_approver, "
                "delegated_to, workflow_starter, an e-mail address or a user id of this company.",
                "field": "parameters.recipients[1]",
            },
        ),
    ],
    ids=["path", "no-subject-template", "unknown-recipient"],
)
def test_a_stored_email_action_names_a_known_template_and_recipients(
    client, acme, parameters, error
):
    before = database_state()

    body = graphql(
        client, CREATE_ACTION, email_action(acme.workflow, parameters), user=acme.company
    )

    assert body["data"]["createWorkflowAction"] == {"action": None, "error": error}
    assert database_state() == before


def test_a_stored_email_action_may_not_mail_another_companys_users(client, acme, globex):
    # given: a user id of the other company
    outsider = globex.user("employee")
    before = database_state()
    parameters = {
        "template": "approved",
        "recipients": ["creator", acme.user("cfo").pk, outsider.pk],
    }

    # when
    body = graphql(
        client, CREATE_ACTION, email_action(acme.workflow, parameters), user=acme.company
    )

    # then
    assert body["data"]["createWorkflowAction"] == {
        "action": None,
        "error": {
            "code": "NOT_FOUND",
            "message": f"User {outsider.pk} is not a user of this company.",
            "field": "parameters.recipients[2]",
        },
    }
    assert database_state() == before


def test_a_stored_email_action_mails_its_own_companys_users(client, acme):
    parameters = {"template": "approved", "recipients": ["creator", str(acme.user("cfo").pk)]}

    body = graphql(
        client, CREATE_ACTION, email_action(acme.workflow, parameters), user=acme.company
    )

    assert body["data"]["createWorkflowAction"]["error"] is None


def test_an_email_action_stored_earlier_skips_other_companies_users(
    acme, globex, settings, django_capture_on_commit_callbacks
):
    # given: a row written before recipients were checked (straight to the table)
    settings.WORKFLOW_AUTO_CREATE_ACTIONS = False
    cfo, outsider = acme.user("cfo"), globex.user("employee")
    WorkflowAction.objects.create(
        workflow=acme.workflow,
        action_type=ActionType.AFTER_APPROVE,
        function_path=NOTIFY,
        parameters={"template": "approved", "recipients": [cfo.pk, outsider.pk]},
    )
    request, attachment = start_purchase_request(acme)
    mail.outbox.clear()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        approve_current_stage(attachment, request)

    # then: the company's own user is mailed, the other company's is not
    assert [message.to for message in mail.outbox] == [[cfo.email]]
