"""Every limit of the HTTP endpoint refuses an abusive request, with an exact answer."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from backend.accounts.models import ApiToken
from backend.accounts.tokens import create_api_token, revoke_api_token
from backend.workflows.models import Workflow
from schema.schema import MAX_ALIASES, MAX_QUERY_DEPTH, MAX_TOKENS
from tests.support.database_state import database_state
from tests.support.helpers import global_id, graphql

pytestmark = pytest.mark.django_db

ME = "query { me { user { username } } }"
WORKFLOW_IDS = "query($first: Int) { workflows(first: $first) { totalCount pageInfo { hasNextPage } edges { node { id } } } }"
WORKFLOW_PAGE = """
query($first: Int, $last: Int, $after: String, $before: String) {
  workflows(first: $first, last: $last, after: $after, before: $before) { edges { node { id } } }
}
"""
# The deepest path the schema has: eight levels below the root field.
DEEPEST_QUERY = """
query Deepest { workflowAttachments { edges { node { workflow { pipelines { stages {
  approvals { requiredForm { name } } } } } } } } }
"""
INTROSPECTION = "query { __schema { queryType { name } } }"
TYPE_INTROSPECTION = 'query { __type(name: "Workflow") { name } }'
MISSPELT_FIELD = "query { workflowz { totalCount } }"
DELETE_WORKFLOW = (
    "mutation($id: ID!) { deleteWorkflow(input: {id: $id}) { deletedId error { code } } }"
)
CLONE_WORKFLOW = (
    "mutation($id: ID!) { cloneWorkflow(input: {id: $id}) { workflow { id } error { code } } }"
)


def nested_query(depth: int) -> str:
    """Return an operation whose deepest field sits ``depth`` levels below the root field."""
    inner = "leaf"
    for level in range(depth - 1, 0, -1):
        inner = f"level{level} {{ {inner} }}"
    return f"query TooDeep {{ me {{ {inner} }} }}"


def post(client, query: str, variables: dict | None = None, **headers):
    return client.post(
        "/graphql",
        data={"query": query, "variables": variables or {}},
        content_type="application/json",
        **headers,
    )


# ----------------------------------------------------------------------------- depth, aliases, tokens


def test_the_deepest_query_of_the_schema_is_within_the_depth_limit(client, acme):
    body = graphql(client, DEEPEST_QUERY, user=acme.user("employee"))

    assert body == {"data": {"workflowAttachments": {"edges": []}}}


def test_a_query_deeper_than_the_limit_is_refused(client, acme):
    # given: no field of the schema nests this deep, so the document names unknown fields too
    query = nested_query(MAX_QUERY_DEPTH + 1)

    # when
    body = graphql(client, query, user=acme.user("employee"))

    # then
    assert body["data"] is None
    assert sorted(error["message"] for error in body["errors"]) == [
        "'TooDeep' exceeds maximum operation depth of 10",
        "Cannot query field 'level1' on type 'Viewer'.",
    ]


def test_a_query_at_the_depth_limit_is_not_refused_for_its_depth(client, acme):
    body = graphql(client, nested_query(MAX_QUERY_DEPTH), user=acme.user("employee"))

    assert [error["message"] for error in body["errors"]] == [
        "Cannot query field 'level1' on type 'Viewer'."
    ]


def aliased(count: int) -> str:
    fields = " ".join(
        f"page{index}: workflows(first: 1) {{ totalCount }}" for index in range(count)
    )
    return f"query {{ {fields} }}"


def test_thirty_aliases_are_allowed(client, acme):
    body = graphql(client, aliased(MAX_ALIASES), user=acme.user("employee"))

    assert "errors" not in body, body
    assert len(body["data"]) == 30


def test_more_than_thirty_aliases_are_refused(client, acme):
    # given
    before = database_state()

    # when
    body = graphql(client, aliased(MAX_ALIASES + 1), user=acme.user("employee"))

    # then
    assert body == {"data": None, "errors": [{"message": "31 aliases found. Allowed: 30"}]}
    assert database_state() == before


def with_tokens(count: int) -> str:
    """Return a cheap-to-validate document of exactly ``count`` lexical tokens.

    16 tokens of structure around a list of enum values: a long list is cheap to validate,
    unlike as many repeated fields, whose overlap check is quadratic.
    """
    statuses = " IN_PROGRESS" * (count - 16)
    return f"{{ workflowAttachments(filter: {{status: [{statuses} ]}}) {{ totalCount }} }}"


def test_a_document_of_two_thousand_tokens_is_parsed(client, acme):
    body = graphql(client, with_tokens(MAX_TOKENS), user=acme.user("employee"))

    assert body == {"data": {"workflowAttachments": {"totalCount": 0}}}


def test_a_document_of_more_than_two_thousand_tokens_is_refused(client, acme):
    body = graphql(client, with_tokens(MAX_TOKENS + 1), user=acme.user("employee"))

    assert body["data"] is None
    (error,) = body["errors"]
    assert (
        error["message"]
        == "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."
    )


# ----------------------------------------------------------------------------- page size


@pytest.fixture
def many_workflows(acme):
    """Acme with 101 more templates: 102 in all."""
    Workflow.objects.bulk_create(
        Workflow(company=acme.company, name_en=f"Template {number}") for number in range(101)
    )
    return acme


def test_a_page_holds_at_most_one_hundred_workflows(client, many_workflows):
    # when: no page size is given
    body = graphql(client, WORKFLOW_IDS, user=many_workflows.user("employee"))

    # then: the first hundred, and the rest is announced
    assert "errors" not in body, body
    page = body["data"]["workflows"]
    assert (len(page["edges"]), page["totalCount"], page["pageInfo"]["hasNextPage"]) == (
        100,
        102,
        True,
    )


def test_first_one_hundred_is_served(client, many_workflows):
    body = graphql(client, WORKFLOW_IDS, {"first": 100}, user=many_workflows.user("employee"))

    page = body["data"]["workflows"]
    assert (len(page["edges"]), page["totalCount"], page["pageInfo"]["hasNextPage"]) == (
        100,
        102,
        True,
    )


@pytest.mark.parametrize(
    ("variables", "message", "field"),
    [
        ({"first": 101}, "Argument 'first' cannot be higher than 100.", "first"),
        ({"last": 101}, "Argument 'last' cannot be higher than 100.", "last"),
        ({"first": -1}, "Argument 'first' must be a non-negative integer.", "first"),
        ({"after": "not a cursor"}, "Argument 'after' is not a valid cursor.", "after"),
        (
            {"before": "YXJyYXljb25uZWN0aW9uOng="},
            "Argument 'before' is not a valid cursor.",
            "before",
        ),
    ],
    ids=["first-101", "last-101", "first-negative", "after-garbage", "before-not-a-number"],
)
def test_a_page_request_beyond_the_limits_is_a_validation_error_not_a_crash(
    client, many_workflows, caplog, variables, message, field
):
    # when
    with caplog.at_level(logging.ERROR, logger="schema.errors"):
        body = graphql(client, WORKFLOW_PAGE, variables, user=many_workflows.user("employee"))

    # then: the client is told what is wrong, and no incident is logged
    assert body["data"] == {"workflows": None}
    (error,) = body["errors"]
    assert (error["message"], error["path"], error["extensions"]) == (
        message,
        ["workflows"],
        {"code": "VALIDATION_ERROR", "field": field},
    )
    assert [r for r in caplog.records if r.name == "schema.errors"] == []


EVENTS_AFTER = """
query($id: ID!, $after: String) { workflowAttachment(id: $id) { id events(after: $after) { totalCount } } }
"""


def test_a_malformed_audit_trail_cursor_is_a_validation_error_not_a_crash(client, acme, caplog):
    # given
    from backend.workflows.services import attach_workflow_to_object
    from tests.support.helpers import make_purchase_request

    attachment = attach_workflow_to_object(
        obj=make_purchase_request(acme), workflow=acme.workflow, user=acme.user("requester")
    )

    # when
    with caplog.at_level(logging.ERROR, logger="schema.errors"):
        body = graphql(
            client,
            EVENTS_AFTER,
            {"id": attachment.pk, "after": "not-an-event-id"},
            user=acme.user("requester"),
        )

    # then: the error stays on its field; the attachment is still read
    assert body["data"] == {
        "workflowAttachment": {
            "id": global_id("WorkflowAttachment", attachment.pk),
            "events": None,
        }
    }
    (error,) = body["errors"]
    assert (error["message"], error["path"], error["extensions"]) == (
        "Argument 'after' is not a valid cursor.",
        ["workflowAttachment", "events"],
        {"code": "VALIDATION_ERROR", "field": "after"},
    )
    assert [r for r in caplog.records if r.name == "schema.errors"] == []


# ----------------------------------------------------------------------------- introspection


@pytest.fixture
def production_settings(settings):
    settings.DEBUG = False
    if hasattr(settings, "GRAPHQL_INTROSPECTION"):
        del settings.GRAPHQL_INTROSPECTION
    return settings


@pytest.mark.parametrize(
    ("query", "field"), [(INTROSPECTION, "__schema"), (TYPE_INTROSPECTION, "__type")]
)
def test_introspection_is_off_without_debug_or_the_setting(
    client, acme, production_settings, query, field
):
    body = graphql(client, query, user=acme.user("employee"))

    assert body["data"] is None
    assert body["errors"][0]["message"] == (
        f"GraphQL introspection has been disabled, but the requested query contained the field '{field}'."
    )


def test_field_suggestions_are_off_without_debug_or_the_setting(client, acme, production_settings):
    body = graphql(client, MISSPELT_FIELD, user=acme.user("employee"))

    assert body["errors"][0]["message"] == "Cannot query field 'workflowz' on type 'Query'."


def test_typename_is_not_introspection(client, production_settings):
    assert graphql(client, "query { __typename }") == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "switch",
    [{"DEBUG": False, "GRAPHQL_INTROSPECTION": True}, {"DEBUG": True}],
    ids=["GRAPHQL_INTROSPECTION", "DEBUG"],
)
def test_introspection_and_suggestions_follow_the_settings_per_request(
    client, acme, production_settings, switch
):
    # given
    for name, value in switch.items():
        setattr(production_settings, name, value)

    # when
    introspected = graphql(client, INTROSPECTION, user=acme.user("employee"))
    misspelt = graphql(client, MISSPELT_FIELD, user=acme.user("employee"))

    # then
    assert introspected == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    message = misspelt["errors"][0]["message"]
    assert message.startswith("Cannot query field 'workflowz' on type 'Query'. Did you mean ")
    assert "'workflows'" in message


# ----------------------------------------------------------------------------- unexpected errors


def test_an_unexpected_query_error_is_masked_and_logged_with_an_incident_id(
    client, acme, monkeypatch, caplog
):
    # given
    def explode(company_id):
        raise RuntimeError("password=hunter2 in a database detail")

    monkeypatch.setattr("backend.workflows.selectors.company_workflows", explode)

    # when
    with caplog.at_level(logging.ERROR, logger="schema.errors"):
        response = post(
            client,
            WORKFLOW_IDS,
            HTTP_AUTHORIZATION=f"Bearer {create_api_token(user=acme.user('employee'))[1]}",
        )

    # then: the client sees a masked error with an incident id
    assert response.status_code == 200
    assert "hunter2" not in response.content.decode()
    body = response.json()
    assert body["data"] == {"workflows": None}
    (error,) = body["errors"]
    assert (error["message"], error["path"]) == ("Unexpected error.", ["workflows"])
    assert set(error["extensions"]) == {"code", "incident"}
    assert error["extensions"]["code"] == "INTERNAL_ERROR"
    incident = error["extensions"]["incident"]
    assert re.fullmatch(r"[0-9a-f]{12}", incident)
    # and the log has the incident id with the real exception
    (record,) = [r for r in caplog.records if r.name == "schema.errors"]
    assert record.levelno == logging.ERROR
    assert incident in record.getMessage()
    assert record.exc_info[1].args == ("password=hunter2 in a database detail",)


def test_an_unexpected_mutation_error_is_masked_and_changes_nothing(
    client, acme, monkeypatch, caplog
):
    # given
    def explode(**kwargs):
        raise KeyError("internal detail")

    monkeypatch.setattr("backend.workflows.services.clone_workflow", explode)
    before = database_state()

    # when
    with caplog.at_level(logging.ERROR, logger="schema.errors"):
        body = graphql(client, CLONE_WORKFLOW, {"id": acme.workflow.pk}, user=acme.company)

    # then
    assert body["data"] == {"cloneWorkflow": None}
    (error,) = body["errors"]
    assert (error["message"], error["path"], error["extensions"]["code"]) == (
        "Unexpected error.",
        ["cloneWorkflow"],
        "INTERNAL_ERROR",
    )
    (record,) = [r for r in caplog.records if r.name == "schema.errors"]
    assert error["extensions"]["incident"] in record.getMessage()
    assert database_state() == before


# ----------------------------------------------------------------------------- CSRF for cookie sessions


def test_the_default_test_client_skips_csrf_so_these_tests_use_an_enforcing_one(client, acme):
    # Django's test Client marks requests "_dont_enforce_csrf_checks"; only
    # Client(enforce_csrf_checks=True) behaves like a browser.
    client.force_login(acme.user("employee"))

    assert post(client, ME).status_code == 200


def test_a_cookie_session_post_without_a_csrf_cookie_is_refused(acme):
    # given
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(acme.user("employee"))

    # when
    response = post(browser, ME)

    # then
    assert response.status_code == 403
    assert response.json() == {"errors": [{"message": "CSRF check failed: CSRF cookie not set."}]}


def test_a_cookie_session_post_without_the_csrf_header_is_refused(acme):
    # given
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(acme.user("employee"))
    browser.cookies["csrftoken"] = _get_new_csrf_string()
    before = database_state()

    # when
    response = post(browser, DELETE_WORKFLOW, {"id": acme.workflow.pk})

    # then
    assert response.status_code == 403
    assert response.json() == {"errors": [{"message": "CSRF check failed: CSRF token missing."}]}
    assert database_state() == before


def test_a_cookie_session_post_with_the_csrf_token_is_served(acme):
    # given
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(acme.user("employee"))
    token = _get_new_csrf_string()
    browser.cookies["csrftoken"] = token

    # when
    response = post(browser, ME, HTTP_X_CSRFTOKEN=token)

    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"user": {"username": "acme-employee"}}}}


def test_a_cookie_session_post_with_a_wrong_csrf_token_is_refused(acme):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(acme.user("employee"))
    browser.cookies["csrftoken"] = _get_new_csrf_string()

    response = post(browser, ME, HTTP_X_CSRFTOKEN=_get_new_csrf_string())

    assert response.status_code == 403
    assert response.json() == {
        "errors": [
            {
                "message": "CSRF check failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect."
            }
        ]
    }


def test_a_bearer_token_needs_no_csrf_token(acme):
    browser = Client(enforce_csrf_checks=True)
    _, raw = create_api_token(user=acme.user("employee"))

    response = post(browser, ME, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"user": {"username": "acme-employee"}}}}


def test_an_anonymous_post_needs_no_csrf_token_and_sees_nothing(acme):
    response = post(Client(enforce_csrf_checks=True), ME)

    assert response.status_code == 200
    assert response.json() == {"data": {"me": None}}


# ----------------------------------------------------------------------------- GET


def test_a_mutation_over_get_is_refused(client, acme):
    # given
    _, raw = create_api_token(user=acme.company)
    before = database_state()

    # when
    response = client.get(
        "/graphql",
        {"query": DELETE_WORKFLOW, "variables": json.dumps({"id": acme.workflow.pk})},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )

    # then
    assert response.status_code == 400
    assert response.content == b"mutations are not allowed when using GET"
    assert database_state() == before


def test_a_query_over_get_is_served(client, acme):
    _, raw = create_api_token(user=acme.user("employee"))

    response = client.get("/graphql", {"query": ME}, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"user": {"username": "acme-employee"}}}}


# ----------------------------------------------------------------------------- bearer tokens

UNAUTHENTICATED_BODY = {
    "errors": [
        {"message": "Invalid or revoked API token.", "extensions": {"code": "UNAUTHENTICATED"}}
    ]
}


@pytest.mark.parametrize(
    "token",
    ["wfql_not-a-real-token", "not-even-the-prefix", "wfql_" + "x" * 300],
    ids=["unknown", "no-prefix", "too-long"],
)
def test_an_invalid_bearer_token_is_401(client, acme, token):
    response = post(client, ME, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED_BODY


def test_a_revoked_bearer_token_is_401(client, acme):
    # given
    row, raw = create_api_token(user=acme.user("employee"))
    assert post(client, ME, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200

    # when
    revoke_api_token(token=row)
    response = post(client, ME, HTTP_AUTHORIZATION=f"Bearer {raw}")

    # then
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED_BODY


def test_a_bearer_token_of_a_deactivated_user_is_401(client, acme):
    user = acme.user("employee")
    _, raw = create_api_token(user=user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = post(client, ME, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED_BODY


def test_a_bad_bearer_token_is_not_downgraded_to_a_cookie_session(acme):
    # A signed-in browser sending a wrong token must not fall back to its session.
    browser = Client()
    browser.force_login(acme.user("employee"))

    response = post(browser, ME, HTTP_AUTHORIZATION="Bearer wfql_wrong")

    assert response.status_code == 401


def test_create_api_token_prints_a_working_token_and_stores_only_its_hash(client, acme):
    # when
    out = StringIO()
    call_command("create_api_token", "acme-employee", "--name", "ci", stdout=out)
    raw = out.getvalue().strip()

    # then: the printed token works
    assert raw.startswith("wfql_")
    response = post(client, ME, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.json() == {"data": {"me": {"user": {"username": "acme-employee"}}}}
    # and only its hash (and a short prefix) is stored
    (row,) = ApiToken.objects.filter(user=acme.user("employee")).values()
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert row["prefix"] == raw[:11]
    assert row["name"] == "ci"
    assert not any(isinstance(value, str) and raw in value for value in row.values())


def test_create_api_token_for_an_unknown_user_fails(acme):
    with pytest.raises(CommandError, match="No user named 'nobody'."):
        call_command("create_api_token", "nobody", stdout=StringIO())
    assert ApiToken.objects.count() == 0


def test_revoke_api_token_by_prefix_stops_the_token(client, acme):
    # given: two tokens of the same user
    out = StringIO()
    call_command("create_api_token", "acme-employee", stdout=out)
    revoked = out.getvalue().strip()
    _, kept = create_api_token(user=acme.user("employee"))

    # when
    out = StringIO()
    call_command("revoke_api_token", "--prefix", revoked[:11], stdout=out)

    # then
    assert out.getvalue().strip() == "Revoked 1 token(s)."
    assert post(client, ME, HTTP_AUTHORIZATION=f"Bearer {revoked}").status_code == 401
    assert post(client, ME, HTTP_AUTHORIZATION=f"Bearer {kept}").status_code == 200
